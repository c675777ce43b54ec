import { existsSync } from 'node:fs';
import type pg from 'pg';
import { IntentGuardError } from '../../errors.js';
import { fingerprint, loadAuditKeys, type AuditKeys } from '../chain.js';
import type { PgPool } from './pool.js';

/** The audit key file of a PostgreSQL store when none is named: in the working directory, beside intentguard.yaml. */
export const DEFAULT_PG_KEY = './intentguard-pg.key';

/**
 * Load the audit key of a PostgreSQL store from its file (never from the database: whoever administers
 * the database could then rewrite rows and recompute their hashes). Every instance of a fleet needs the
 * same key file. The key's public fingerprint is registered in `audit_keys` on first use; an instance
 * whose key does not match it is refused (`ERR_STORE_KEY`) rather than recording chains nobody can verify.
 * @example const keys = await pgAuditKeys(pool, './intentguard-pg.key', { create: true })
 */
export async function pgAuditKeys(
  p: PgPool,
  file: string,
  options: { create: boolean; now: number },
): Promise<AuditKeys> {
  if (!file.endsWith('.key'))
    throw new IntentGuardError('ERR_CONFIG', `the audit key file must end in .key, got ${file}`);
  if (!options.create && !existsSync(file))
    throw new IntentGuardError(
      'ERR_STORE_KEY',
      `audit key ${file} not found (the key of ${p.display} lives in a file beside the config: copy it here, or set INTENTGUARD_AUDIT_KEY)`,
    );
  // The key exists before the fingerprint is registered: a second instance racing this one either
  // registers its own first (and this one is refused) or finds this one's.
  const keys = loadAuditKeys(file.slice(0, -'.key'.length), options.create);
  const mine = fingerprint(keys.key);
  if (options.create)
    await p.pool.query(
      'INSERT INTO audit_keys (epoch, fingerprint, registered_at) VALUES ($1, $2, $3) ON CONFLICT (epoch) DO NOTHING',
      [keys.epoch, mine, options.now],
    );
  const r = await p.pool.query<{ fingerprint: string }>(
    'SELECT fingerprint FROM audit_keys WHERE epoch = $1',
    [keys.epoch],
  );
  const registered = r.rows[0]?.fingerprint;
  if (registered !== undefined && registered !== mine)
    throw new IntentGuardError(
      'ERR_STORE_KEY',
      `audit key ${file} (fingerprint ${mine}) is not the key ${p.display} records with (fingerprint ${registered}): every instance needs the same key file`,
    );
  const newest = await p.pool.query<{ e: number | null }>('SELECT max(epoch) AS e FROM audit_keys');
  refuseRetired(newest.rows[0]?.e ?? null, keys.epoch, p.display, file);
  return keys;
}

/**
 * Taken shared by every transaction that chains rows with the current key (the recorder's batches,
 * approvals, revocations, grant requests) and exclusively by `audit rotate-key`: a rotation waits for
 * the writes in flight, and no write chained with the old key lands after its hand-over record.
 */
export const KEY_EPOCH_LOCK = 0x1a7e_4e9c;

/** Held shared, on a connection of its own, by every store opened to write (src/store/pg/store.ts). */
export const WRITER_PRESENCE_LOCK = 0x1a7e_4e9d;

/**
 * In a transaction about to chain rows with `keys.key`: hold the epoch lock (shared) and refuse
 * (`ERR_STORE_KEY`, nothing written) when the store's key was rotated past this process's key —
 * an instance still running with the old key fails closed instead of writing rows nobody can verify.
 */
export async function checkEpoch(
  client: pg.PoolClient,
  keys: { readonly epoch: number; readonly keyFile: string },
  display: string,
): Promise<void> {
  const r = await client.query<{ e: number | null }>(
    'SELECT pg_advisory_xact_lock_shared($1)::text AS locked, (SELECT max(epoch) FROM audit_keys) AS e',
    [KEY_EPOCH_LOCK],
  );
  refuseRetired(r.rows[0]?.e ?? null, keys.epoch, display, keys.keyFile);
}

/** Refuse (`ERR_STORE_KEY`) a write chained with `epoch` once the store's newest key epoch is past it. */
export function refuseRetired(newest: number | null, epoch: number, display: string, file: string): void {
  if (newest !== null && newest > epoch)
    throw new IntentGuardError(
      'ERR_STORE_KEY',
      `the audit key of ${display} was rotated to epoch ${newest}; ${file} is the retired key of epoch ${epoch}: copy the new key file (and the retired ${file}.${epoch}) here, then restart`,
    );
}
