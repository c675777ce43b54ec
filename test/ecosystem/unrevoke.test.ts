// Issue 18: `intentguard unrevoke`. A revocation (an operator's, or a halted session's) can be lifted by
// a chained lift row: history kept, the audit chain intact, running processes (their own memory
// included) and every fleet instance stop refusing; lifting what is not revoked is ERR_NOT_REVOKED; a
// lift written without the audit key, or a lift row deleted, fails closed. Real CLI processes, real
// SQLite files, a real PostgreSQL.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { createRevocations, liftRevocation } from '../../src/identity/revocations.js';
import { pgRevocations, revokeInFleet, unrevokeInFleet } from '../../src/fleet/revocations.js';
import { openStore } from '../../src/store/db.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { startPostgres } from '../helpers/postgres.js';

const exec = promisify(execFile);
const bin = resolve('bin/intentguard.js');
const dir = mkdtempSync(join(tmpdir(), 'ig-unrevoke-'));
const cli = (args: string[]) =>
  exec(process.execPath, [bin, ...args], { cwd: dir }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('intentguard unrevoke', () => {
  it('lifts a subject revocation: the grant verifies again, the audit chain stays intact, a second lift is ERR_NOT_REVOKED, a new revoke still works', async () => {
    const db = join(dir, 'ig.db');
    writeIntent();
    assert.equal((await cli(['keys', 'generate', '--out', 'keys'])).code, 0);
    const mint = await cli([
      'grant',
      'mint',
      '--intent',
      'intent.yaml',
      '--sub',
      'agent:night',
      '--iss',
      'https://idp.test',
      '--aud',
      'https://ig.test',
    ]);
    assert.equal(mint.code, 0, mint.stderr);
    const token = mint.stdout.trim();
    const inspect = () => cli(['grant', 'inspect', token, '--db', db]);
    assert.match((await inspect()).stdout, /verified/);

    assert.equal((await cli(['revoke', 'agent:night', '--db', db, '--reason', 'laptop lost'])).code, 0);
    const revoked = await inspect();
    assert.notEqual(revoked.code, 0);
    assert.match(revoked.stdout + revoked.stderr, /ERR_GRANT_REVOKED/);

    const lift = await cli(['unrevoke', 'agent:night', '--db', db, '--reason', 'laptop found']);
    assert.equal(lift.code, 0, lift.stderr);
    assert.match(lift.stdout, /^lifted the revocation of subject agent:night in /);
    const again = await inspect();
    assert.equal(again.code, 0, again.stdout);
    assert.doesNotMatch(again.stdout, /ERR_GRANT_REVOKED/);
    const audit = await cli(['audit', 'verify', db]);
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);

    const twice = await cli(['unrevoke', 'agent:night', '--db', db]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /ERR_NOT_REVOKED: subject agent:night has no revocation in force to lift/);
    const typo = await cli(['unrevoke', 'agent:nigth', '--db', db]);
    assert.equal(typo.code, 2);

    // A lift ends only the revocations before it.
    assert.equal((await cli(['revoke', 'agent:night', '--db', db])).code, 0);
    assert.match((await inspect()).stdout + '', /ERR_GRANT_REVOKED/);
    // History is kept: every revocation and lift is a row.
    const rows = new Database(db, { readonly: true })
      .prepare('SELECT sub, reason, expires_at FROM revocations ORDER BY rowid')
      .all() as { reason: string; expires_at: number | null }[];
    assert.deepEqual(
      rows.map((r) => r.reason),
      ['laptop lost', 'lifted: laptop found', 'revoked by operator'],
    );
  });

  it("a running process's own revocation (a halt) is lifted too; a lift row deleted or forged without the key fails closed", () => {
    const db = join(dir, 'running.db');
    const running = openStore(db);
    const revocations = createRevocations(running);
    const now = Date.now();
    revocations.revoke({ jti: 'grant-1' }, 'session ig-1 halted', now + 600_000);
    assert.equal(revocations.isRevoked('grant-1', 'agent:a', now), true);
    // Another process (the CLI) lifts it.
    const operator = openStore(db);
    liftRevocation(operator, { jti: 'grant-1' }, 'false positive', now + 1);
    operator.close();
    assert.equal(revocations.isRevoked('grant-1', 'agent:a', now + 2), false, 'lifted, memory included');

    // Deleting the lift row: the revocation is back, and the record shows the gap.
    const raw = new Database(db);
    raw.prepare('DELETE FROM revocations WHERE expires_at = 0').run();
    assert.equal(revocations.isRevoked('grant-1', 'agent:a', now + 3), true);
    assert.equal(revocations.isRevoked('other', 'agent:b', now + 3), true, 'a gap refuses every grant');
    raw.close();
    running.close();

    // A lift row written straight into the table (no audit key) breaks the chain: everything refused.
    const db2 = join(dir, 'forged.db');
    const s2 = openStore(db2);
    const r2 = createRevocations(s2);
    r2.revoke({ sub: 'agent:evil' }, 'exfiltration');
    const forged = new Database(db2);
    const head = forged.prepare('SELECT hash FROM revocations ORDER BY rowid DESC LIMIT 1').pluck().get();
    forged
      .prepare(
        "INSERT INTO revocations (jti, sub, reason, revoked_at, expires_at, hash, prev_hash) VALUES (NULL, 'agent:evil', 'lifted: me', ?, 0, ?, ?)",
      )
      .run(Date.now(), 'f'.repeat(64), head);
    forged.close();
    assert.equal(r2.isRevoked('j', 'agent:evil', Date.now()), true);
    assert.ok(r2.tampered(), 'the forged lift is found');
    s2.close();
    assert.ok(readFileSync(`${db2}.key`).length > 0);
  });

  it('on a fleet (PostgreSQL): the lift reaches every instance', async () => {
    const server = await startPostgres();
    try {
      const url = server.createDatabase('unrevoke');
      const pgKey = join(dir, 'pg.key');
      const store = await openPgStore(url, { keyFile: pgKey });
      const instance = await pgRevocations(store);
      try {
        await revokeInFleet(url, { sub: 'agent:fleet' }, 'suspicious', pgKey);
        await instance.refresh();
        assert.equal(instance.isRevoked('j1', 'agent:fleet', Date.now()), true);
        await assert.rejects(
          unrevokeInFleet(url, { sub: 'agent:other' }, 'x', pgKey),
          /ERR_NOT_REVOKED|no revocation/,
        );
        const where = await unrevokeInFleet(url, { sub: 'agent:fleet' }, 'cleared', pgKey);
        assert.match(where, /unrevoke/);
        await instance.refresh();
        assert.equal(instance.isRevoked('j1', 'agent:fleet', Date.now()), false);
        assert.equal(instance.tampered(), undefined, 'the lift is chained');
      } finally {
        await instance.close();
        await store.close();
      }
    } finally {
      server.stop();
    }
  });
});

function writeIntent(): void {
  writeFileSync(join(dir, 'intent.yaml'), 'purpose: nightly report\ntools: [echo]\n');
}
