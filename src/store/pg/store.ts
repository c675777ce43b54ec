import type { AuditKeys } from '../chain.js';
import { parseStoreLocation } from '../location.js';
import { pgAuditKeys, DEFAULT_PG_KEY } from './keys.js';
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
    return { kind: 'postgres', pg, display: pg.display, keyFile, ...keys, close: () => pg.close() };
  } catch (e) {
    await pg.close().catch(() => undefined);
    throw e;
  }
}
