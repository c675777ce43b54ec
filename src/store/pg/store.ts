import pg from 'pg';
import type { AuditKeys } from '../chain.js';
import { parseStoreLocation } from '../location.js';
import { pgAuditKeys, DEFAULT_PG_KEY, WRITER_PRESENCE_LOCK } from './keys.js';
import { migratePg } from './migrations.js';
import { openPool, type PgPool, type PgPoolOptions } from './pool.js';

/** An open PostgreSQL store: its pool, migrated schema and audit keys (from the key file). */
export interface PgStore extends AuditKeys {
  readonly kind: 'postgres';
  readonly pg: PgPool;
  /** The URL without its password. */
  readonly display: string;
  /** The audit key file. */
  readonly keyFile: string;
  close(): Promise<void>;
}

export interface PgStoreOptions extends PgPoolOptions {
  /** Read only: no key created (the key file must exist). The schema is migrated either way. */
  readonly readonly?: boolean;
  /** The audit key file (default `INTENTGUARD_AUDIT_KEY`, else ./intentguard-pg.key). */
  readonly keyFile?: string;
  readonly clock?: () => number;
}

/**
 * Open a PostgreSQL store: a bounded pool, the schema migrated (safe with many instances starting at
 * once), the audit key loaded from its file and checked against the fingerprint the store registered.
 * @example const store = await openPgStore('postgres://ig@db/intentguard'); await store.close()
 */
export async function openPgStore(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
  parseStoreLocation(url);
  const pg = await openPool(url, options);
  const keyFile = options.keyFile ?? process.env.INTENTGUARD_AUDIT_KEY ?? DEFAULT_PG_KEY;
  try {
    await migratePg(pg);
    const keys = await pgAuditKeys(pg, keyFile, {
      create: !options.readonly,
      now: (options.clock ?? Date.now)(),
    });
    const presence = options.readonly ? undefined : await holdPresence(url);
    return {
      kind: 'postgres',
      pg,
      display: pg.display,
      keyFile,
      ...keys,
      async close() {
        await presence?.end().catch(() => undefined);
        await pg.close();
      },
    };
  } catch (e) {
    await pg.close().catch(() => undefined);
    throw e;
  }
}

/**
 * A store opened to write says so for as long as it is open: one connection of its own holding
 * {@link WRITER_PRESENCE_LOCK} shared, which `audit rotate-key` cannot take while any is held. A lost
 * connection only loses the notice (the epoch check on every write still refuses a retired key).
 */
async function holdPresence(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'intentguard-writer' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT pg_advisory_lock_shared($1)::text', [WRITER_PRESENCE_LOCK]);
  } catch (e) {
    await c.end().catch(() => undefined);
    throw e;
  }
  return c;
}
