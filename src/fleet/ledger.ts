import { memoryLedger, type RedemptionLedger } from '../mrtr/ledger.js';
import type { PgStore } from '../store/pg/store.js';
import { migrateFleet } from './schema.js';

/**
 * MRTR requestState single use across a fleet: `mrtr_redeemed` in the shared PostgreSQL. A state is
 * redeemed in this process first (sync, on the traffic path: a replay to the same instance is refused
 * at once), then `confirm` inserts its nonce before the approval is used — `ON CONFLICT DO NOTHING` on
 * the primary key is the check, atomic across instances: of two instances given the same state, one
 * inserts and approves, the other finds it there and refuses. A database error refuses (fail closed).
 * Expired nonces are deleted now and then (a state past its expiry no longer verifies anyway).
 * @example createEraGate({ key, ledger: await pgLedger(store) })
 */
export async function pgLedger(store: PgStore): Promise<RedemptionLedger> {
  await migrateFleet(store.pg);
  const local = memoryLedger();
  let inserted = 0;
  return {
    redeem: (nonce, expiresAt, now) => local.redeem(nonce, expiresAt, now),
    async confirm(nonce, expiresAt, now) {
      if (++inserted % 256 === 0)
        await store.pg.pool.query('DELETE FROM mrtr_redeemed WHERE expires_at <= $1', [now]);
      const r = await store.pg.pool.query(
        'INSERT INTO mrtr_redeemed (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING',
        [nonce, expiresAt],
      );
      return r.rowCount === 1;
    },
  };
}
