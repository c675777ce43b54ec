// The PostgreSQL store's plumbing against a real server: the store location as every command parses it,
// the bounded pool and its coded refusals, versioned migrations (many instances at once), the audit key's
// fingerprint check.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chooseStore } from '../../src/cli/store-flag.js';
import { runtimeOptions } from '../../src/cli/proxy-commands.js';
import { parseStoreLocation } from '../../src/store/location.js';
import { migratePg, STORE_MIGRATIONS } from '../../src/store/pg/migrations.js';
import { openPool } from '../../src/store/pg/pool.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { openStore } from '../../src/store/db.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
const keyFile = () => join(mkdtempSync(join(tmpdir(), 'ig-pgkey-')), 'audit.key');

describe('store location: --store, store:, INTENTGUARD_STORE', () => {
  it('a postgres:// or postgresql:// URL selects PostgreSQL, anything else is the SQLite path', () => {
    const pg = parseStoreLocation('postgresql://ig:s3cret@db.internal:6543/records');
    assert.equal(pg.kind, 'postgres');
    assert.ok(pg.kind === 'postgres' && pg.port === 6543 && pg.database === 'records');
    assert.ok(pg.kind === 'postgres' && !pg.display.includes('s3cret'), 'the password is never shown');
    assert.equal(parseStoreLocation('POSTGRES://h/d').kind, 'postgres');
    assert.deepEqual(parseStoreLocation('./data/ig.db'), { kind: 'sqlite', path: './data/ig.db' });
  });

  it('a bad store URL is ERR_STORE_URL, never a SQLite file named after it', () => {
    for (const bad of [
      'postgres://',
      'postgres://host',
      'postgres://host/',
      'postgres://h/a/b',
      'mysql://h/d',
      '',
    ])
      assert.throws(() => parseStoreLocation(bad), code('ERR_STORE_URL'), bad);
    assert.throws(() => chooseStore({ store: 'postgres://nohostdb' }), code('ERR_STORE_URL'));
    assert.throws(() => openStore('postgres://h/d'), code('ERR_STORE_BACKEND'));
  });

  it('--db is the older name of --store; INTENTGUARD_STORE fills in; two different stores are refused', () => {
    assert.equal(chooseStore({ db: 'a.db' }, {}), 'a.db');
    assert.equal(chooseStore({}, { INTENTGUARD_STORE: 'postgres://h/d' }), 'postgres://h/d');
    assert.equal(chooseStore({}, {}), './intentguard.db');
    assert.equal(chooseStore({}, {}, null), undefined);
    assert.throws(() => chooseStore({ store: 'a.db', db: 'b.db' }), code('ERR_CONFIG'));
    // The proxies: flag, then intentguard.yaml's store:, then the environment.
    assert.equal(runtimeOptions({ store: 'postgres://h/d' }, {}).db, 'postgres://h/d');
    assert.equal(runtimeOptions({}, { INTENTGUARD_STORE: 'postgres://h/e' }).db, 'postgres://h/e');
    assert.throws(() => runtimeOptions({ store: 'postgres://h' }, {}), code('ERR_STORE_URL'));
  });
});

describe('PostgreSQL pool, migrations and audit key', () => {
  let server: TempPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());

  it('a refused connection, a missing database and a bad pool size are clear coded errors', async () => {
    await assert.rejects(openPool(`postgres://postgres@127.0.0.1:1/x`), code('ERR_STORE_UNREACHABLE'));
    await assert.rejects(
      openPool(`postgres://postgres@127.0.0.1:${server.port}/nope`),
      code('ERR_STORE_NOT_FOUND'),
    );
    await assert.rejects(openPool(server.url, { max: 0 }), code('ERR_CONFIG'));
    await assert.rejects(openPool(server.url, { max: 1000 }), code('ERR_CONFIG'));
  });

  it('migrations: each version applied once, in a transaction, safe with many instances migrating at once', async () => {
    const url = server.createDatabase('mig_race');
    const pools = await Promise.all(Array.from({ length: 6 }, () => openPool(url, { max: 1 })));
    try {
      const versions = await Promise.all(pools.map((p) => migratePg(p)));
      assert.deepEqual(
        versions,
        versions.map(() => STORE_MIGRATIONS.at(-1)!.version),
      );
      const r = await pools[0]!.pool.query(
        'SELECT component, version FROM schema_migrations ORDER BY version',
      );
      assert.deepEqual(
        r.rows,
        STORE_MIGRATIONS.map((m) => ({ component: 'store', version: m.version })),
      );
      // Another component's list is versioned on its own.
      await migratePg(pools[1]!, 'other', [{ version: 1, sql: 'CREATE TABLE other_t (x int)' }]);
      await migratePg(pools[2]!, 'other', [{ version: 1, sql: 'CREATE TABLE other_t (x int)' }]);
      // A failed migration leaves nothing behind, and says which.
      await assert.rejects(
        migratePg(pools[3]!, 'broken', [{ version: 1, sql: 'CREATE TABLE b1 (x int); SELECT nonsense()' }]),
        code('ERR_STORE_SCHEMA'),
      );
      const b1 = await pools[0]!.pool.query("SELECT to_regclass('b1') AS t");
      assert.equal(b1.rows[0].t, null);
      // A schema newer than this intentguard is refused.
      await pools[0]!.pool.query("INSERT INTO schema_migrations (component, version) VALUES ('store', 99)");
      await assert.rejects(migratePg(pools[4]!), code('ERR_STORE_SCHEMA'));
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  it('the audit key lives in a file; an instance with another key is refused (ERR_STORE_KEY)', async () => {
    const url = server.createDatabase('keys');
    const file = keyFile();
    const a = await openPgStore(url, { keyFile: file });
    const again = await openPgStore(url, { keyFile: file, readonly: true });
    assert.deepEqual(again.key, a.key);
    await Promise.all([a.close(), again.close()]);
    await assert.rejects(openPgStore(url, { keyFile: keyFile() }), code('ERR_STORE_KEY'));
    await assert.rejects(openPgStore(url, { keyFile: keyFile(), readonly: true }), code('ERR_STORE_KEY'));
    const tables = await openPool(url);
    const cols = await tables.pool.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_keys'",
    );
    assert.ok(!cols.rows.some((r) => r.column_name === 'key'), 'only a fingerprint is kept in the database');
    await tables.close();
  });
});
