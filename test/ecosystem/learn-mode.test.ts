// Learn mode (issue 18): `--mode monitor` without an intent watches what an agent does — records,
// alerts every call as outside intent, and passes it — and its alerts say what would have happened
// and what did. Real intentguard stdio process, real server-memory, real SQLite file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { openStore } from '../../src/store/db.js';
import { listSessions, sessionTimeline } from '../../src/store/queries.js';
import { waitFor } from '../helpers/wait.js';

const memory = ['--', process.execPath, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js'];

interface Finding {
  evidences: { tool?: string }[];
  action: string;
  disposition: string;
  finding_info: { analytic: { uid: string } };
  unmapped: { outcome: string; would?: string };
}

describe('learn mode: --mode monitor without an intent', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'intentguard-learn-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('monitor mode without an intent records, alerts every call as outside intent, and passes it (no ERR_GRANT_INTENT)', async () => {
    const db = join(dir, 'learn.db');
    const alerts = join(dir, 'alerts.jsonl');
    const client = new Client({ name: 'learner', version: '1.0.0' });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        'bin/intentguard.js',
        'stdio',
        '--mode',
        'monitor',
        '--db',
        db,
        '--alerts-jsonl',
        alerts,
        ...memory,
      ],
      env: { ...(process.env as Record<string, string>), MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
      stderr: 'pipe',
    });
    await client.connect(transport);
    const created = await client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'alice', entityType: 'person', observations: ['likes tea'] }] },
    });
    assert.notEqual(created.isError, true, JSON.stringify(created));
    const read = await client.callTool({ name: 'read_graph', arguments: {} });
    assert.match(JSON.stringify(read.content), /alice/, 'the call was delivered and answered by the server');
    await client.close();
    await waitFor(
      () => existsSync(alerts) && readFileSync(alerts, 'utf8').split('\n').filter(Boolean).length >= 2,
      'two alerts',
    );
    const findings = readFileSync(alerts, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding);
    // Each call is alerted (a write outside intent would have been held, a read outside intent alerts).
    for (const tool of ['create_entities', 'read_graph']) {
      assert.ok(
        findings.some((f) => f.evidences[0]?.tool === tool),
        `${tool} is alerted: ${JSON.stringify(findings.map((f) => f.finding_info.analytic.uid))}`,
      );
    }
    const store = openStore(db, { readonly: true });
    try {
      const [session] = listSessions(store, { limit: 5 });
      assert.ok(session, 'the session was recorded');
      assert.match(String(session.purpose), /learn mode/);
      const calls = sessionTimeline(store, session.id)!.entries.filter(
        (e) => e.tool === 'create_entities' || e.tool === 'read_graph',
      );
      assert.ok(calls.length >= 2, 'both calls are in the recorded timeline');
    } finally {
      store.close();
    }
  });

  it('monitor-mode alerts say what would have happened (would_deny) and what did (Allowed / Logged), never Denied / Blocked', () => {
    const findings = readFileSync(join(dir, 'alerts.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding);
    assert.ok(findings.length > 0);
    for (const f of findings) {
      assert.equal(f.action, 'Allowed', JSON.stringify(f));
      assert.equal(f.disposition, 'Logged', JSON.stringify(f));
    }
    assert.ok(
      findings.some((f) => f.unmapped.would === 'would_deny' || f.unmapped.would === 'would_reauthorize'),
      JSON.stringify(findings.map((f) => f.unmapped)),
    );
  });

  it('sessions does not show DENY or REAUTHORIZE for a monitored session whose calls were all delivered', async () => {
    const r = spawnSync(process.execPath, ['bin/intentguard.js', 'sessions', '--db', join(dir, 'learn.db')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.includes('learn mode'));
    assert.ok(line, r.stdout);
    assert.doesNotMatch(line, / (DENY|REAUTHORIZE|HALT) /, line);
    assert.match(line, / would-(deny|reauthorize) /, line);
  });

  it('show labels a monitored call with what would have happened and that it was delivered, never a bare DENY', async () => {
    const db = join(dir, 'learn.db');
    const list = spawnSync(process.execPath, ['bin/intentguard.js', 'sessions', '--db', db, '--json'], {
      encoding: 'utf8',
    });
    const id = (JSON.parse(list.stdout.split('\n')[0]!) as { id: string }).id;
    const r = spawnSync(process.execPath, ['bin/intentguard.js', 'show', id, '--db', db], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const calls = r.stdout.split('\n').filter((l) => / call /.test(l));
    assert.ok(calls.length > 0, r.stdout);
    for (const l of calls) assert.doesNotMatch(l, / (DENY|REAUTHORIZE|HALT)\b/, l);
    assert.ok(
      calls.some((l) => / would-(deny|reauthorize) \(monitor mode: delivered\)/.test(l)),
      r.stdout,
    );
  });
});
