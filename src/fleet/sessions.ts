import type { Identity } from '../model/events.js';
import type { Intent } from '../model/intent.js';
import type { Monitor } from '../monitor/create.js';
import type { SessionHandle } from '../monitor/handle.js';
import type { PgStore } from '../store/pg/store.js';
import { pgSessionLeases, type SessionLeaseOptions, type SessionLeases } from './leases.js';
import { restoreFromRecord } from './restore.js';

/** What the stateless HTTP path needs to serve sessions of a fleet (src/stateless/http.ts). */
export interface FleetSessions {
  readonly leases: SessionLeases;
  /** Continue here a session another instance owned, rebuilt from its record. */
  restore(id: string, intent: Intent, identity: Identity | undefined): Promise<SessionHandle>;
  /** Resolves once everything observed so far is committed to the shared store; rejects if it cannot be. */
  durable(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Stateless sessions across a fleet: leases on the shared store, takeover by replaying the record,
 * and answers held until what led to them is durable (so a failover loses neither budget nor provenance).
 * @example const fleet = await fleetSessions(store, monitor, () => recorder.flush())
 */
export async function fleetSessions(
  store: PgStore,
  monitor: Monitor,
  durable: () => Promise<unknown>,
  options: SessionLeaseOptions = {},
): Promise<FleetSessions> {
  const leases = await pgSessionLeases(store, options);
  return {
    leases,
    restore: (id, intent, identity) =>
      restoreFromRecord(store, monitor, { id, intent, identity, transport: 'http-stateless' }),
    durable,
    close: () => leases.close(),
  };
}
