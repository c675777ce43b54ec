import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createApprovals } from '../src/approvals/approvals.js';
import { diffCandidateRules } from '../src/console/rules-diff.js';
import { createMonitor, loadRulePack, packPolicies, parseIntent, tap, type Monitor } from '../src/index.js';
import { openStore } from '../src/store/db.js';
import { createRecorder } from '../src/store/recorder.js';
import { demoServer } from './helpers/servers.js';

const cli = (args: string[]) =>
  promisify(execFile)(process.execPath, ['bin/intentguard.js', ...args]).catch(
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

/**
 * A recorded session (shipped pack) whose `send_email` call was held and approved with scope
 * `intent`: the intent widened to version 2, under which the next `send_email` was allowed.
 */
async function widenedSession(): Promise<{ dir: string; db: string; id: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-amend-'));
  const db = join(dir, 'intentguard.db');
  const store = openStore(db);
  let monitor!: Monitor;
  const approvals = createApprovals(() => monitor, {
    channels: [async (p) => ({ approved: true, approver: 'soc:alice', scope: 'intent', approvalId: p.id })],
    store,
  });
  monitor = createMonitor({ policy: packPolicies(loadRulePack()), approver: approvals.approver });
  const recorder = createRecorder(store, monitor);
  const [c, s] = InMemoryTransport.createLinkedPair();
  await demoServer().connect(s);
  const client = new Client({ name: 'agent', version: '1' });
  const transport = tap(c, monitor, {
    side: 'client',
    intent: parseIntent({ purpose: 'summarise my notes', tools: ['echo', 'read_notes'] }),
    identity: { sub: 'agent:mailer' },
  });
  await client.connect(transport);
  await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
  await client.callTool({ name: 'send_email', arguments: { to: 'a@corp.test', body: 'one' } });
  await client.callTool({ name: 'send_email', arguments: { to: 'b@corp.test', body: 'two' } });
  assert.equal(transport.session.state().intent.version, 2);
  const id = transport.session.id;
  await client.close();
  await recorder.close();
  monitor.close();
  store.close();
  return { dir, db, id };
}

describe('replay re-applies the intent versions recorded in a session', () => {
  it('a session whose intent an approval widened shows no diff against the unchanged pack', async () => {
    const { dir, db, id } = await widenedSession();
    const diff = await cli(['replay', db, '--diff']);
    assert.match(diff.stdout, /1 sessions replayed; 0 decisions would change/, diff.stdout);
    // The console's rules view: the shipped pack plus an empty candidate directory changes nothing.
    const store = openStore(db);
    try {
      const r = await diffCandidateRules(store, { dir: mkdtempSync(join(dir, 'candidate-')), since: 0 });
      assert.deepEqual([r.sessions, r.changed, r.rows], [1, 0, []]);
    } finally {
      store.close();
    }
    // Replay of the session decides the second send_email under version 2 (allowed), as live.
    const json = JSON.parse((await cli(['replay', db, '--session', id, '--json'])).stdout) as {
      findings: { rule: string; call: number | null }[];
    };
    assert.deepEqual(
      json.findings.map((f) => [f.rule, f.call]),
      [['IG-INT-001', 1]],
    );
    // An export carries the change (`amend`), so replaying the file decides the same.
    const file = join(dir, 'sessions.jsonl');
    await cli(['export', '--db', db, '--out', file]);
    const fromFile = JSON.parse((await cli(['replay', file, '--json'])).stdout) as typeof json;
    assert.deepEqual(fromFile.findings, json.findings);
  });
});
