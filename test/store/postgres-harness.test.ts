// The throwaway PostgreSQL the fleet tests run against: it starts (as an unprivileged user when run as
// root), takes connections from node-postgres, creates databases, and leaves nothing behind when stopped.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';

describe('throwaway PostgreSQL', () => {
  let server: TempPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());

  it('serves node-postgres on 127.0.0.1 and creates a fresh database per caller', async () => {
    const url = server.createDatabase('harness_check');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL)');
      await client.query('INSERT INTO t VALUES ($1, $2), ($3, $4)', [1, 'a', 2, 'b']);
      const r = await client.query<{ n: string; db: string }>(
        'SELECT count(*)::text AS n, current_database() AS db FROM t',
      );
      assert.deepEqual(r.rows[0], { n: '2', db: 'harness_check' });
    } finally {
      await client.end();
    }
  });

  it('refuses a database name that is not a plain identifier', () => {
    assert.throws(() => server.createDatabase('x; DROP DATABASE postgres'), /not a plain database name/);
  });

  it('stops and removes its directory', async () => {
    const other = await startPostgres();
    assert.ok(existsSync(other.dir));
    const c = new pg.Client({ connectionString: other.url });
    await c.connect();
    await c.end();
    other.stop();
    other.stop(); // idempotent
    const again = new pg.Client({ connectionString: other.url });
    await assert.rejects(again.connect(), /ECONNREFUSED/);
    assert.equal(existsSync(other.dir), false);
  });
});
