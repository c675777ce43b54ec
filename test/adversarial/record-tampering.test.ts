// Issue 13: an insider with write access to the database (not to the key) edits the record behind
// intentguard's back. Every tampering the issue lists must be reported by `audit verify`, and a deleted
// revocation must not re-enable the grant it revoked. Each test here passed unnoticed on the code
// before the fix (checked against 952e1a9).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import Database from 'better-sqlite3';
import { createApprovals } from '../../src/approvals/approvals.js';
import { createMonitor, parseIntent, type Monitor } from '../../src/index.js';
import { createGrantGate } from '../../src/identity/gate.js';
import { mintGrant } from '../../src/identity/grant.js';
import { generateKeys, resolveKeys } from '../../src/identity/keys.js';
import { createRevocations } from '../../src/identity/revocations.js';
import { tapWithGrant } from '../../src/app/tap-grant.js';
import { verifyAudit } from '../../src/store/audit.js';
import { openStore } from '../../src/store/db.js';
import { createRecorder } from '../../src/store/recorder.js';
import { demoServer } from '../helpers/servers.js';
import { driveSession } from '../helpers/session.js';

const run = promisify(execFile);
const tempDb = () => join(mkdtempSync(join(tmpdir(), 'ig-tamper-')), 'intentguard.db');

/** Problems as reported, whatever the shape of the report (the code before the fix had one `problem`). */
type Found = { table: string; kind: string; session?: string; detail: string };
function verify(path: string): { ok: boolean; problems: Found[]; unsealed: Found[] } {
  const store = openStore(path, { readonly: true });
  try {
    const r = verifyAudit(store) as unknown as {
      ok: boolean;
      problems?: Found[];
      problem?: Found;
      unsealed?: Found[];
    };
    return { ok: r.ok, problems: r.problems ?? (r.problem ? [r.problem] : []), unsealed: r.unsealed ?? [] };
  } finally {
    store.close();
  }
}

/** `UPDATE table SET col = value...` for the columns the table has (the schema before the fix had fewer). */
const setExisting = (path: string, table: string, values: Record<string, string>, where: string) => {
  const raw = new Database(path);
  try {
    const have = new Set(
      (raw.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name),
    );
    const set = Object.entries(values)
      .filter(([c]) => have.has(c))
      .map(([c, v]) => `${c} = ${v}`)
      .join(', ');
    raw.exec(`UPDATE ${table} SET ${set} WHERE ${where}`);
  } finally {
    raw.close();
  }
};

const sql = (path: string, text: string) => {
  const raw = new Database(path);
  try {
    raw.exec(text);
  } finally {
    raw.close();
  }
};

/**
 * A recorded database with everything an auditor reads: three sessions with a drifting call held for
 * approval (approved by user:alice: a decision, an alert, an approval), one halted session (budget), and
 * two revocations.
 */
async function recordDb() {
  const path = tempDb();
  const store = openStore(path);
  let monitor!: Monitor;
  const approvals = createApprovals(() => monitor, {
    store,
    channels: [
      async (p) => ({ approved: true, approver: 'user:alice', approvalId: p.id, argsDigest: p.argsDigest }),
    ],
  });
  monitor = createMonitor({ approver: approvals.approver });
  const recorder = createRecorder(store, monitor);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await driveSession(monitor, { sub: `agent:${i}` }));
  const h = monitor.open({
    intent: parseIntent({ purpose: 'two calls at most', tools: ['echo'], budget: { calls: 2 } }),
    identity: { sub: 'agent:halted' },
    lifecycle: false,
  });
  for (let i = 0; i < 3; i++)
    await h.observe('c2s', {
      jsonrpc: '2.0',
      id: i,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: `${i}` } },
    });
  h.close();
  const revocations = createRevocations(store);
  revocations.revoke({ jti: 'grant-early' }, 'operator');
  revocations.revoke({ sub: 'agent:gone' }, 'left the team');
  await recorder.close();
  monitor.close();
  store.close();
  return { path, ids, halted: h.id };
}

const reported = (path: string, table: string, kinds: string[], session?: string) => {
  const r = verify(path);
  assert.equal(r.ok, false, 'verify must not pass');
  const p = r.problems.find((x) => x.table === table);
  assert.ok(p, `a problem in ${table}: ${JSON.stringify(r.problems)}`);
  assert.ok(kinds.includes(p.kind), `${table}: ${p.kind} (${p.detail}) is one of ${kinds.join('/')}`);
  if (session) assert.equal(p.session, session);
  return p;
};

describe('issue 13: tampering with the record is reported', () => {
  it('verifies untouched: a recorded database with sessions, a halt, approvals, alerts and revocations passes', async () => {
    const { path, halted } = await recordDb();
    const r = verify(path);
    assert.deepEqual(r.problems, []);
    assert.equal(r.ok, true);
    const store = openStore(path, { readonly: true });
    assert.equal(store.db.prepare('SELECT outcome FROM sessions WHERE id = ?').pluck().get(halted), 'halt');
    assert.equal(
      store.db.prepare('SELECT count(*) FROM approvals WHERE approver = ?').pluck().get('user:alice'),
      3,
    );
    store.close();
  });

  it('seal removed and the halted session rewritten as ALLOW (end_hash NULL, outcome allow, drift 0, calls 1)', async () => {
    const { path, halted } = await recordDb();
    sql(
      path,
      `UPDATE sessions SET end_hash = NULL, outcome = 'allow', drift = 0, calls = 1 WHERE id = '${halted}'`,
    );
    reported(path, 'sessions', ['edited'], halted);
  });

  it('seal removed (every end column cleared: the session looks live) and its trailing events and decisions deleted', async () => {
    const { path, ids } = await recordDb();
    const id = ids[1]!;
    const cleared = Object.fromEntries(
      [
        'end_hash',
        'ended_at',
        'outcome',
        'calls',
        'drift',
        'events',
        'last_event_hash',
        'decisions',
        'last_decision_hash',
        'alerts',
        'last_alert_hash',
        'seal_note',
      ].map((c) => [c, 'NULL']),
    );
    setExisting(path, 'sessions', { ...cleared, status: "'open'" }, `id = '${id}'`);
    sql(
      path,
      `DELETE FROM events WHERE session_id = '${id}' AND seq >= (SELECT max(seq) - 3 FROM events WHERE session_id = '${id}');
      DELETE FROM decisions WHERE session_id = '${id}';`,
    );
    const p = reported(path, 'sessions', ['deleted', 'edited'], id);
    assert.match(p.detail, /seal was removed/);
  });

  it('seal removed (end_hash NULL, end kept) and the trailing events and decisions deleted', async () => {
    const { path, ids } = await recordDb();
    const id = ids[0]!;
    sql(
      path,
      `UPDATE sessions SET end_hash = NULL WHERE id = '${id}';
      DELETE FROM events WHERE session_id = '${id}' AND seq >= (SELECT max(seq) - 3 FROM events WHERE session_id = '${id}');
      DELETE FROM decisions WHERE session_id = '${id}';`,
    );
    reported(path, 'sessions', ['edited', 'deleted'], id);
  });

  it('a session killed with kill -9 (no seal) has its tail cut: found against the head anchor, before and after the next start seals it', async () => {
    const path = tempDb();
    await killedRecording(path);
    // Cut into what the head anchor saw (rows of a last commit whose anchor the kill prevented are, by
    // design, not covered: the anchor is then one commit behind).
    const anchored = existsSync(`${path}.anchor`)
      ? String(
          (
            JSON.parse(readFileSync(`${path}.anchor`, 'utf8').split('\n')[0]!) as {
              open: Record<string, { events: number }>;
            }
          ).open['load-0']!.events,
        )
      : `(SELECT max(seq) + 1 FROM events WHERE session_id = 'load-0')`; // the code before the fix kept no anchor
    sql(path, `DELETE FROM events WHERE session_id = 'load-0' AND seq >= ${anchored} - 5`);
    const before = reported(path, 'events', ['truncated'], 'load-0');
    assert.match(before.detail, /tail was cut/);
    // The next intentguard process to open the database seals it, and keeps what the anchor saw.
    const store = openStore(path);
    assert.ok(store.sealedAtOpen.includes('load-0'));
    const status = store.db
      .prepare('SELECT status FROM sessions WHERE id = ?')
      .pluck()
      .get('load-0') as string;
    assert.match(status, /^ended without seal at event \d+$/);
    store.close();
    reported(path, 'events', ['truncated'], 'load-0');
  });

  it('the newest session deleted entirely (session, events, decisions, alerts)', async () => {
    const { path, halted } = await recordDb();
    sql(
      path,
      `DELETE FROM events WHERE session_id = '${halted}'; DELETE FROM decisions WHERE session_id = '${halted}';
      DELETE FROM alerts WHERE session_id = '${halted}'; DELETE FROM sessions WHERE id = '${halted}';`,
    );
    const p = reported(path, 'sessions', ['truncated']);
    assert.match(p.detail, /newest rows were deleted/);
  });

  it('an alert edited (its severity lowered)', async () => {
    const { path } = await recordDb();
    sql(path, `UPDATE alerts SET severity = 'info' WHERE rowid = (SELECT min(rowid) FROM alerts)`);
    reported(path, 'alerts', ['edited']);
  });

  it('an alert deleted', async () => {
    const { path, ids } = await recordDb();
    sql(path, `DELETE FROM alerts WHERE session_id = '${ids[1]}'`);
    reported(path, 'alerts', ['truncated', 'deleted'], ids[1]);
  });

  it('an approval edited (who approved it)', async () => {
    const { path } = await recordDb();
    sql(path, `UPDATE approvals SET approver = 'user:bob' WHERE rowid = 2`);
    reported(path, 'approvals', ['edited']);
  });

  it('an approval edited (its binding: the arguments digest)', async () => {
    const { path } = await recordDb();
    sql(path, `UPDATE approvals SET args_digest = 'ffff' WHERE rowid = 1`);
    reported(path, 'approvals', ['edited']);
  });

  it('an approval deleted (the newest, and one in the middle)', async () => {
    const a = await recordDb();
    sql(a.path, 'DELETE FROM approvals WHERE rowid = (SELECT max(rowid) FROM approvals)');
    reported(a.path, 'approvals', ['truncated']);
    const b = await recordDb();
    sql(b.path, 'DELETE FROM approvals WHERE rowid = 2');
    reported(b.path, 'approvals', ['deleted']);
  });

  it("an approval's decision removed (back to pending)", async () => {
    const { path } = await recordDb();
    setExisting(
      path,
      'approvals',
      { status: "'pending'", approver: 'NULL', scope: 'NULL', decided_at: 'NULL', decision_hash: 'NULL' },
      'rowid = 3',
    );
    reported(path, 'approvals', ['deleted']);
  });

  it('a revocation edited (made to expire)', async () => {
    const { path } = await recordDb();
    sql(path, `UPDATE revocations SET expires_at = 1 WHERE rowid = 1`);
    reported(path, 'revocations', ['edited']);
  });

  it('a revocation deleted: reported, and the revoked grant stays refused by a new gate on the same database', async () => {
    const path = tempDb();
    const grant = await grantFor();
    const first = openStore(path);
    createRevocations(first, () => NOW).revoke({ jti: grant.jti }, 'halted elsewhere');
    createRevocations(first, () => NOW).revoke({ sub: 'agent:other' }, 'operator');
    first.close();
    sql(path, `DELETE FROM revocations WHERE jti = '${grant.jti}'`);
    reported(path, 'revocations', ['deleted']);
    await refusedByNewGate(path, grant, 'row deleted');
  });

  it('a revocation deleted with the head anchor rolled back to an older copy, or deleted: the gap in the chain makes a new gate refuse the grant', async () => {
    for (const anchorMove of ['rolled back', 'deleted'] as const) {
      const path = tempDb();
      const grant = await grantFor();
      const first = openStore(path);
      createRevocations(first, () => NOW).revoke({ sub: 'agent:earlier' }, 'operator');
      const older = `${path}.older`;
      if (existsSync(`${path}.anchor`)) copyFileSync(`${path}.anchor`, older);
      createRevocations(first, () => NOW).revoke({ jti: grant.jti }, 'halted elsewhere');
      createRevocations(first, () => NOW).revoke({ sub: 'agent:later' }, 'operator');
      first.close();
      sql(path, `DELETE FROM revocations WHERE jti = '${grant.jti}'`);
      if (anchorMove === 'rolled back' && existsSync(older)) copyFileSync(older, `${path}.anchor`);
      else rmSync(`${path}.anchor`, { force: true });
      assert.equal(verify(path).ok, false, anchorMove);
      await refusedByNewGate(path, grant, anchorMove);
    }
  });

  it('unsealed sessions (the recording process was killed) are reported, not accepted silently; the CLI exits 2 and says so in --json', async () => {
    const path = tempDb();
    await killedRecording(path);
    const r = verify(path);
    assert.deepEqual(r.problems, []);
    assert.equal(r.ok, false);
    assert.deepEqual(r.unsealed.map((u) => u.session).sort(), ['load-0', 'load-1', 'load-2']);
    const cli = await run(process.execPath, ['bin/intentguard.js', 'audit', 'verify', path, '--json']).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(cli.code, 2);
    const json = JSON.parse(cli.stdout) as {
      exit: number;
      unsealed: { kind: string; detail: string }[];
      problems: unknown[];
    };
    assert.equal(json.exit, 2);
    assert.deepEqual(json.problems, []);
    assert.ok(
      json.unsealed.every((u) => u.kind === 'unsealed' && /ended without seal at event \d+/.test(u.detail)),
      cli.stdout,
    );
  });

  it('audit verify names the first bad row of each table with its reason, exits 1, and has --json', async () => {
    const { path, ids } = await recordDb();
    sql(
      path,
      `UPDATE events SET raw = replace(raw, 'hello 1', 'hello X') WHERE session_id = '${ids[0]}' AND raw LIKE '%hello 1%';
      UPDATE alerts SET rule = 'x' WHERE session_id = '${ids[2]}'; DELETE FROM revocations WHERE rowid = 2;`,
    );
    const text = await run(process.execPath, ['bin/intentguard.js', 'audit', 'verify', path]).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(text.code, 1);
    assert.match(text.stdout, /audit FAILED: events row \d+ \(session [\w-]+ seq \d+\): edited/);
    assert.match(text.stdout, /alerts row \d+ \(session [\w-]+\): edited/);
    assert.match(text.stdout, /revocations row 2: truncated/);
    const json = await run(process.execPath, ['bin/intentguard.js', 'audit', 'verify', path, '--json']).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(json.code, 1);
    const r = JSON.parse(json.stdout) as { problems: Found[] };
    assert.deepEqual(
      r.problems.map((p) => [p.table, p.kind]),
      [
        ['events', 'edited'],
        ['alerts', 'edited'],
        ['revocations', 'truncated'],
      ],
    );
  });
});

const NOW = Date.parse('2026-11-26T10:00:00Z');

/** A signed grant for agent:x, its keys and its jti. */
async function grantFor() {
  const keys = await generateKeys('ES256');
  const token = await mintGrant({
    privateJwk: keys.privateJwk,
    iss: 'https://idp.test',
    aud: 'https://ig.test/mcp',
    sub: 'agent:x',
    ttl: '10m',
    intent: { purpose: 'notes', tools: ['echo'] },
    now: NOW,
  });
  return {
    keys,
    token,
    jti: JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string,
  };
}

/** A proxy started afterwards on the same database (its revocation list from there) refuses the grant. */
async function refusedByNewGate(
  path: string,
  grant: Awaited<ReturnType<typeof grantFor>>,
  what: string,
): Promise<void> {
  const store = openStore(path);
  const monitor = createMonitor();
  try {
    const gate = createGrantGate(
      monitor,
      {
        keys: await resolveKeys({ jwks: grant.keys.publicJwks }),
        issuers: ['https://idp.test'],
        audience: 'https://ig.test/mcp',
        clock: () => NOW,
      },
      createRevocations(store, () => NOW),
    );
    const [c, s] = InMemoryTransport.createLinkedPair();
    await demoServer().connect(s);
    await assert.rejects(
      tapWithGrant(c, monitor, gate, grant.token, { side: 'client' }),
      (e: { code?: string }) => e.code === 'ERR_GRANT_REVOKED',
      what,
    );
  } finally {
    monitor.close();
    store.close();
  }
}

/** Record into `path` in a child process and kill it with SIGKILL mid-stream (no seal is written). */
async function killedRecording(path: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/record-child.ts', path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let acks = 0;
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      acks += chunk.toString().split('\n').length - 1;
      if (acks >= 30) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', (code) => (acks < 30 ? reject(new Error(`child exited early (${code})`)) : undefined));
  });
  await new Promise((r) => child.on('exit', r));
}
