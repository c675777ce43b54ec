import { verifyAudit } from '../audit.js';
import type { BackendOptions, StoreBackend } from '../store-backend.js';
import { prunePg } from './prune.js';
import { createPgRecorder } from './recorder.js';
import { pgSnapshot } from './snapshot.js';
import { openPgStore } from './store.js';

/**
 * A PostgreSQL store behind the backend interface. Readers run on a private SQLite copy of the rows
 * they need (one consistent snapshot); `audit verify` checks every chain and seal of the copy — there
 * is no head anchor file for a store shared by many hosts (README: what that leaves out).
 */
export async function postgresBackend(url: string, options: BackendOptions): Promise<StoreBackend> {
  const store = await openPgStore(url, {
    ...(options.readonly && { readonly: true }),
    ...(options.keyFile && { keyFile: options.keyFile }),
    ...(options.clock && { clock: options.clock }),
  });
  return {
    kind: 'postgres',
    location: store.display,
    key: store.key,
    epoch: store.epoch,
    keys: store.keys,
    postgres: store,
    record: (monitor, o = {}) =>
      createPgRecorder(store, monitor, {
        ...(o.maxBatch !== undefined && { maxBatch: o.maxBatch }),
        ...(o.flushDelayMs !== undefined && { flushDelayMs: o.flushDelayMs }),
        ...(o.retryMs !== undefined && { retryMs: o.retryMs }),
      }),
    read: async (filter = 'all') => pgSnapshot(store, filter),
    async verify() {
      const snap = await pgSnapshot(store, 'all');
      try {
        return verifyAudit(snap.store, { anchor: false });
      } finally {
        snap.close();
      }
    },
    prune: (cutoff, now) => prunePg(store, cutoff, now),
    close: () => store.close(),
  };
}
