import { pruneSessions, verifyAudit } from './audit.js';
import { openStore, type Store } from './db.js';
import { parseStoreLocation } from './location.js';
import { createRecorder } from './recorder.js';
import type { BackendOptions, StoreBackend } from './store-backend.js';

export type { BackendOptions, StoreBackend } from './store-backend.js';

/**
 * Open the store a location names: `postgres://…` or `postgresql://…` opens PostgreSQL (pool,
 * migrations, key check), anything else the SQLite file. PostgreSQL is loaded only when used.
 * @example const store = await openBackend(flags.db, { readonly: true })
 */
export async function openBackend(location: string, options: BackendOptions = {}): Promise<StoreBackend> {
  const where = parseStoreLocation(location);
  if (where.kind === 'postgres') {
    const { postgresBackend } = await import('./pg/backend.js');
    return postgresBackend(location, options);
  }
  return sqliteBackend(
    openStore(where.path, {
      ...(options.readonly && { readonly: true }),
      ...(options.mustExist && { mustExist: true }),
      ...(options.clock && { clock: options.clock }),
    }),
  );
}

/** The SQLite store behind the backend interface. */
function sqliteBackend(store: Store): StoreBackend {
  return {
    kind: 'sqlite',
    location: store.path,
    key: store.key,
    epoch: store.epoch,
    keys: store.keys,
    sqlite: store,
    record: (monitor, options) => createRecorder(store, monitor, options),
    read: async () => ({ store, path: store.path, close: () => undefined }),
    verify: async () => verifyAudit(store),
    prune: async (cutoff, now) => pruneSessions(store, cutoff, now),
    close: async () => store.close(),
  };
}
