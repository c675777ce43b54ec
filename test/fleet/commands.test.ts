// The store commands on a fleet's PostgreSQL, run as a user runs them (bin/intentguard.js in its own
// process) against sessions recorded there: intent suggest, audit verify, sessions, show, export,
// replay --diff, prune, approvals. Those that need SQLite say so with a coded error rather than opening a file named after the URL.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { createMonitor, intentPolicy } from '../../src/index.js';
import { openBackend } from '../../src/store/backend.js';
import { driveSession } from '../helpers/session.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';

const exec = promisify(execFile);

describe('store commands on PostgreSQL', () => {
  let server: TempPostgres;
  let url: string;
  const key = join(mkdtempSync(join(tmpdir(), 'ig-fleetcmd-')), 'audit.key');
  const ids: string[] = [];
  const cli = (args: string[]) =>
    exec(process.execPath, ['bin/intentguard.js', ...args], {
      env: { ...process.env, INTENTGUARD_FROM_SOURCE: '1', INTENTGUARD_AUDIT_KEY: key },
    }).then(
      (r) => ({ ...r, code: 0 }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  before(async () => {
    server = await startPostgres();
    url = server.createDatabase('fleet_cmd');
    const backend = await openBackend(url, { keyFile: key });
    const monitor = createMonitor({ policy: intentPolicy() });
    const recorder = backend.record(monitor, { flushDelayMs: 1 });
    for (let i = 0; i < 3; i++) ids.push(await driveSession(monitor, { calls: 2, sub: `agent:${i}` }));
    await recorder.flush();
    await recorder.close();
    monitor.close();
    await backend.close();
  });
  after(() => server?.stop());

  it('intent suggest learns an intent from the sessions recorded in a postgres:// store', async () => {
    const all = await cli(['intent', 'suggest', '--store', url]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /from 3 sessions/);
    assert.match(all.stdout, /tools:\n {2}- "echo"/);
    assert.doesNotMatch(all.stdout, /^ {2}- "send_email"/m, 'the flagged call is left out of the tools');
    const one = await cli(['intent', 'suggest', '--store', url, '--sub', 'agent:1']);
    assert.equal(one.code, 0, one.stderr);
    const none = await cli(['intent', 'suggest', '--store', url, '--sub', 'agent:nobody']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /ERR_SUGGEST_NO_SESSIONS/);
    assert.doesNotMatch(none.stderr, /postgres:\/\/[^ ]*:[^ ]*@/, 'no password printed');
  });

  it('audit verify, sessions, show, export, replay --diff and prune work on a postgres:// store', async () => {
    const verify = await cli(['audit', 'verify', '--store', url]);
    assert.equal(verify.code, 0, verify.stderr + verify.stdout);
    assert.match(verify.stdout, /audit ok: 3 sessions/);
    assert.doesNotMatch(verify.stdout, /postgres:\/\/[^ ]*:[^ ]*@/, 'no password printed');
    const sessions = await cli(['sessions', '--store', url, '--json']);
    assert.equal(sessions.code, 0, sessions.stderr);
    assert.deepEqual(
      new Set(
        sessions.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: string }).id),
      ),
      new Set(ids),
    );
    const show = await cli(['show', ids[0]!, '--store', url, '--json']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /send_email/);
    const exported = await cli(['export', '--store', url]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout.trim().split('\n').length, 3, 'one bundle line per session');
    const replay = await cli(['replay', url, '--json']);
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(replay.stdout.trim().split('\n').length, 3, 'one result per recorded session');
    // Same rules as recorded: --diff finds no decision that would change.
    const diff = await cli(['replay', url, '--diff', '--json']);
    assert.equal(diff.code, 0, diff.stderr);
    assert.equal(diff.stdout.trim(), '');
    const prune = await cli(['prune', '--older-than', '0s', '--store', url]);
    assert.equal(prune.code, 0, prune.stderr);
    const after = await cli(['audit', 'verify', '--store', url]);
    assert.equal(after.code, 0, after.stderr + after.stdout);
    const left = await cli(['sessions', '--store', url, '--json']);
    assert.equal(left.stdout.trim(), '', 'the ended sessions were pruned, and the record still verifies');
  });

  it('task done on a postgres:// store revokes the grant in the fleet table (a chained row)', async () => {
    const done = await cli(['task', 'done', 'grant-of-a-task', '--store', url]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /task done: grant grant-of-a-task revoked in .*every instance is told/);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const rows = await c.query<{ reason: string; hash: string | null }>(
        "SELECT reason, hash FROM revocations WHERE jti = 'grant-of-a-task'",
      );
      assert.equal(rows.rows.length, 1);
      assert.equal(rows.rows[0]!.reason, 'task done');
      assert.ok(rows.rows[0]!.hash, 'chained');
    } finally {
      await c.end();
    }
  });

  it('approvals (the list) reads the fleet table', async () => {
    const pool = new pg.Client({ connectionString: url });
    await pool.connect();
    await pool.query(
      "INSERT INTO approvals (id, session_id, sub, tool, status, reason, requested_at, expires_at) VALUES ('apr-x', 's-1', 'agent:x', 'send_email', 'pending', 'outside intent', $1, $2)",
      [Date.now(), Date.now() + 600_000],
    );
    await pool.end();
    const list = await cli(['approvals', '--store', url, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; state: string });
    assert.deepEqual(
      rows.map((r) => [r.id, r.state]),
      [['apr-x', 'pending']],
    );
  });
});
