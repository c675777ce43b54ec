// Issue 18, approvals papercuts: `intentguard approvals` lists held calls (id, session, agent, tool, why,
// expiry); the approval id is in the JSON-RPC error's data and in the OCSF alert; the log says "held"
// only when someone can answer, and "denied at once" when nobody can. Real proxy (`intentguard stdio`),
// real server-memory, real SQLite, real SDK client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const exec = promisify(execFile);
const bin = resolve('bin/intentguard.js');
const MEMORY = resolve('node_modules/@modelcontextprotocol/server-memory/dist/index.js');
const cli = (args: string[]) =>
  exec(process.execPath, [bin, ...args]).then(
    (r) => ({ ...r, code: 0 }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
const dir = mkdtempSync(join(tmpdir(), 'ig-approvals-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: look at the knowledge graph\ntools: [read_graph]\n');

/** `intentguard stdio` in front of server-memory, with its stderr collected; `line(re)` waits for a line. */
async function proxied(flags: string[]) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin, 'stdio', '--intent', intentFile, ...flags, '--', process.execPath, MEMORY],
    env: {
      ...(process.env as Record<string, string>),
      MEMORY_FILE_PATH: join(dir, `memory-${Math.random()}.json`),
    },
    stderr: 'pipe',
  });
  let text = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  transport.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of [...waiters]) {
      const m = text.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const client = new Client({ name: 'approvals-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    stderr: () => text,
    line: (re: RegExp) =>
      new Promise<RegExpMatchArray>((r) => {
        const m = text.match(re);
        if (m) r(m);
        else waiters.push({ re, resolve: r });
      }),
  };
}

const entities = { entities: [{ name: 'x', entityType: 'thing', observations: ['secret plan'] }] };
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail('the held call was delivered'),
    (e: unknown) => {
      assert.ok(e instanceof McpError, String(e));
      return e as McpError & { data: Record<string, unknown> };
    },
  );

// A backstop only (never a speed assertion): without an id in the log the wait for it would never end.
describe('approvals (issue 18)', { timeout: 180_000 }, () => {
  it('approval ids: intentguard approvals lists the held call; its id is in the log, the JSON-RPC error data and the OCSF alert', async () => {
    const db = join(dir, 'held.db');
    const alerts = join(dir, 'held-alerts.jsonl');
    const p = await proxied([
      '--db',
      db,
      '--approve-cli',
      '--approval-timeout',
      '10m',
      '--alerts-jsonl',
      alerts,
    ]);
    const call = refusal(p.client.callTool({ name: 'create_entities', arguments: entities }));
    const [, id] = (await p.line(
      /held create_entities for unverified \(session [^,]+, approval (apr-[\w-]+)\)/,
    ))!;
    assert.ok(id);

    const listed = await cli(['approvals', '--db', db, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.id, id);
    assert.equal(rows[0]!.tool, 'create_entities');
    assert.equal(rows[0]!.agent, 'unverified');
    assert.equal(rows[0]!.state, 'pending');
    assert.match(String(rows[0]!.reason), /create_entities/);
    assert.equal(typeof rows[0]!.expiresAt, 'number');
    assert.match(String(rows[0]!.session), /^ig-/);
    const text = await cli(['approvals', '--db', db]);
    assert.match(
      text.stdout,
      new RegExp(
        `^1 pending approvals in .*\\n${id}  pending\\n  session ig-\\S+  agent unverified  tool create_entities\\n  held: .*create_entities`,
        'm',
      ),
    );

    assert.equal((await cli(['deny', id!, '--db', db])).code, 0);
    const e = await call;
    assert.equal(e.data.approvalId, id, 'the refusal names the approval');
    assert.equal(e.data.code, 'ERR_REAUTH_REQUIRED');

    const pendingNow = await cli(['approvals', '--db', db, '--json']);
    assert.equal(pendingNow.stdout, '', 'nothing pending any more');
    const all = (await cli(['approvals', '--db', db, '--state', 'all', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      all.map((r) => [r.id, r.state]),
      [[id, 'denied']],
    );
    await p.client.close();
    const ocsf = readFileSync(alerts, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { unmapped: Record<string, unknown>; evidences: { tool?: string }[] });
    const held = ocsf.filter((a) => a.evidences[0]?.tool === 'create_entities');
    assert.ok(held.length > 0);
    for (const a of held) assert.equal(a.unmapped.approval_id, id, 'the alert names the approval');
  });

  it('with no approver the log says the call was denied at once, never "held", and still names the approval', async () => {
    const db = join(dir, 'none.db');
    const p = await proxied(['--db', db]);
    const e = await refusal(p.client.callTool({ name: 'create_entities', arguments: entities }));
    assert.match(String(e.data.approvalId), /^apr-/);
    const [line] = (await p.line(/denied create_entities for unverified at once[^\n]*/))!;
    assert.match(
      line!,
      new RegExp(`approval ${e.data.approvalId}\\): needs an approval and no approver could ask`),
    );
    assert.doesNotMatch(p.stderr(), /held create_entities/);
    await p.client.close();
    const all = (await cli(['approvals', '--db', db, '--state', 'all', '--json'])).stdout;
    const row = JSON.parse(all.trim()) as Record<string, unknown>;
    assert.equal(row.id, e.data.approvalId);
    assert.equal(row.state, 'denied');
    assert.equal(row.approver, 'no approver available');
  });

  it('approvals --state takes pending or all, nothing else (ERR_CONFIG)', async () => {
    const r = await cli(['approvals', '--db', join(dir, 'held.db'), '--state', 'open']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERR_CONFIG: --state must be pending or all, got "open"/);
  });
});
