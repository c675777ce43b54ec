import type { ConsoleData } from '../console/data.js';
import type { PgStore } from '../store/pg/store.js';

/**
 * The console's data on a fleet's PostgreSQL (`intentguard console --store postgres://…`, and
 * `--console-port` on a proxy recording there): every instance's sessions; decisions, revocations and
 * grant requests through the fleet's tables, so whichever instance holds a call releases it.
 * @example const data = await pgConsole(store, url)
 */
export async function pgConsole(store: PgStore, location: string): Promise<ConsoleData> {
  const [{ pgConsoleData }, fleet, { revokeInFleet }, { migrateFleet }] = await Promise.all([
    import('../console/pg-data.js'),
    import('../fleet/approvals.js'),
    import('../fleet/revocations.js'),
    import('../fleet/schema.js'),
  ]);
  await migrateFleet(store.pg);
  return pgConsoleData(store, {
    decide: (id, approve, approver, scope) => fleet.decideInFleet(location, id, approve, approver, scope),
    revoke: async (jti, reason) => {
      await revokeInFleet(location, { jti }, reason, store.keyFile);
    },
    approvals: fleet.pgApprovalLedger(store),
  });
}
