// Revocations across a fleet: two intentguard instances (separate processes) on one real PostgreSQL.
// A grant revoked on A halts its session running on B (NOTIFY wakes B); a revocation B could only have
// missed (written with triggers off, so no NOTIFY at all) is found when B's feed reconnects; a row edited
// in the table makes every instance refuse every grant (fail closed).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { pgRevocations } from '../../src/fleet/revocations.js';
import { GENESIS, HASHED, fieldsOf, link } from '../../src/store/chain.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { waitFor } from '../helpers/wait.js';
import type { TempPostgres } from '../helpers/postgres.js';
import {
  connectAgent as connect,
  startTwoInstances,
  type FleetKit,
  type Instance,
  type TwoInstances,
} from './fleet-helpers.js';

const exec = promisify(execFile);
const echo = (c: Client, text: string) => c.callTool({ name: 'echo', arguments: { text } });

describe('fleet revocations (two instances, one PostgreSQL)', () => {
  let fleet: TwoInstances;
  let server: TempPostgres;
  let kit: FleetKit;
  let url: string;
  let a: Instance, b: Instance;
  before(async () => {
    fleet = await startTwoInstances('fleet_rev');
    ({ server, kit, url, a, b } = fleet);
  });
  after(() => fleet?.stop());

  it('a grant revoked on A halts its session running on B, and opens no new session anywhere', async () => {
    const token = await kit.grant('agent:fleet-1');
    const jti = decodeJwt(token).jti!;
    const client = await connect(b.url, token);
    const ok = await echo(client, 'before');
    assert.notEqual(ok.isError, true);
    await a.ask('revoke', { jti });
    // B learns it from the NOTIFY; its next call is refused (no timing asserted: the bench measures it).
    let refused: Error | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      refused = await echo(client, `after ${i}`).then(
        () => undefined,
        (e: Error) => e,
      );
      if (!refused) await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(String(refused?.message), /revoked/);
    await client.close().catch(() => undefined);
    for (const instance of [a, b])
      await assert.rejects(connect(instance.url, token), /401|revoked|ERR_GRANT_REVOKED/);
  });

  it('`intentguard revoke --store postgres://…` reaches every running instance', async () => {
    const token = await kit.grant('agent:fleet-cli');
    const jti = decodeJwt(token).jti!;
    const client = await connect(a.url, token);
    assert.notEqual((await echo(client, 'before')).isError, true);
    const { stdout } = await exec(process.execPath, ['bin/intentguard.js', 'revoke', jti, '--store', url], {
      env: { ...process.env, INTENTGUARD_AUDIT_KEY: kit.auditKey, INTENTGUARD_FROM_SOURCE: '1' },
    });
    assert.match(stdout, /revoked grant .* \(every instance is told\)/);
    for (const instance of [a, b]) {
      let seen = false;
      for (let i = 0; i < 400 && !seen; i++) {
        seen = (await instance.ask('revoked', { jti })).revoked === true;
        if (!seen) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(seen);
    }
    await assert.rejects(echo(client, 'after'), /revoked/);
    await client.close().catch(() => undefined);
  });

  it('a revocation no NOTIFY announced is found when the feed reconnects (NOTIFY is not durable)', async () => {
    const token = await kit.grant('agent:fleet-2');
    const jti = decodeJwt(token).jti!;
    const store = await openPgStore(url, { keyFile: kit.auditKey, readonly: true });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Written as a chained row, but with triggers off: no instance is woken by it.
      await admin.query("SET session_replication_role = 'replica'");
      const prev = await admin.query<{ hash: string }>(
        'SELECT hash FROM revocations WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1',
      );
      const row = {
        jti,
        sub: null,
        reason: 'written while B was away',
        revoked_at: Date.now(),
        expires_at: null,
      };
      const prevHash = prev.rows[0]?.hash ?? GENESIS;
      await admin.query(
        'INSERT INTO revocations (jti, sub, reason, revoked_at, expires_at, hash, prev_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [
          row.jti,
          row.sub,
          row.reason,
          row.revoked_at,
          row.expires_at,
          link(store.key, prevHash, fieldsOf(row, HASHED.revocations)),
          prevHash,
        ],
      );
      assert.equal((await b.ask('revoked', { jti })).revoked, false, 'B was not told');
      // B's feed drops (as when the database restarts); on reconnect it re-reads what it missed.
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'intentguard-listen'",
      );
      let seen = false;
      for (let i = 0; i < 400 && !seen; i++) {
        seen = (await b.ask('revoked', { jti })).revoked === true;
        if (!seen) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(seen, 'B re-read the revocations after its feed reconnected');
    } finally {
      await admin.end();
      await store.close();
    }
  });

  it('an instance whose feed stays down refuses every grant until it has reconnected and re-read', async () => {
    const own = server.createDatabase('fleet_rev_stale');
    const store = await openPgStore(own, { keyFile: kit.auditKey });
    const r = await pgRevocations(store, { staleMs: 50, reconnectMs: 50 });
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      assert.equal(r.isRevoked('a-grant', 'agent:a', Date.now()), false);
      await admin.query('ALTER DATABASE fleet_rev_stale ALLOW_CONNECTIONS false');
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'fleet_rev_stale' AND pid <> pg_backend_pid()",
      );
      // It could be missing a revocation now: fail closed, and say why.
      await waitFor(() => r.isRevoked('a-grant', 'agent:a', Date.now()), 'the feed seen stale', 30_000);
      assert.match(String(r.tampered()), /revocation feed .* is down/);
      await admin.query('ALTER DATABASE fleet_rev_stale ALLOW_CONNECTIONS true');
      await waitFor(() => !r.isRevoked('a-grant', 'agent:a', Date.now()), 'the feed back', 30_000);
      assert.equal(r.tampered(), undefined);
    } finally {
      await admin.query('ALTER DATABASE fleet_rev_stale ALLOW_CONNECTIONS true').catch(() => undefined);
      await admin.end();
      await r.close();
      await store.close();
    }
  });

  it('a revocation row edited in the table: every grant is refused (fail closed)', async () => {
    const store = await openPgStore(url, { keyFile: kit.auditKey });
    const watcher = await pgRevocations(store);
    try {
      assert.equal(watcher.isRevoked('some-other-grant', 'agent:other', Date.now()), false);
      await watcher.revokeShared({ jti: 'victim' }, 'stolen');
      await store.pg.pool.query("UPDATE revocations SET reason = 'nothing to see' WHERE jti = 'victim'");
      // An edit is an UPDATE: no NOTIFY, so a fresh reader (a restarted instance) is what finds it.
      const fresh = await pgRevocations(store);
      try {
        assert.match(String(fresh.tampered()), /edited/);
        assert.equal(fresh.isRevoked('some-other-grant', 'agent:other', Date.now()), true);
      } finally {
        await fresh.close();
      }
    } finally {
      await watcher.close();
      await store.close();
    }
  });
});
