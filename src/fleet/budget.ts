import { ALLOW, verdictOf, type Action, type Finding, type Policy } from '../model/policy.js';
import { scopeKey } from '../policy/grant-scope.js';
import type { PgStore } from '../store/pg/store.js';
import { migrateFleet } from './schema.js';

/** Kept this long past a grant's expiry when the grant names none (a row is never kept for ever). */
const NO_EXPIRY_MS = 24 * 3600_000;

/**
 * Count the call and return the grant's usage after it, or nothing when the budget is spent. One
 * statement, so atomic across instances: the increment happens only while `calls < limit` (a row whose
 * grant has expired starts again), and of two instances racing for the last call one gets it.
 */
const COUNT = `
  INSERT INTO grant_usage (scope, calls, started_at, expires_at) VALUES ($1, 1, $2, $3)
  ON CONFLICT (scope) DO UPDATE SET
    calls = CASE WHEN grant_usage.expires_at <= $5 THEN 1 ELSE grant_usage.calls + 1 END,
    started_at = CASE WHEN grant_usage.expires_at <= $5 THEN EXCLUDED.started_at ELSE grant_usage.started_at END,
    expires_at = GREATEST(grant_usage.expires_at, EXCLUDED.expires_at)
  WHERE grant_usage.calls < $4 OR grant_usage.expires_at <= $5
  RETURNING calls, started_at`;

export interface FleetBudgetOptions {
  /** What a call past the budget gets (default `halt`, as the intent policy). */
  readonly budgetExceeded?: Action;
  readonly clock?: () => number;
}

/**
 * A grant's budget as one budget across a fleet: every tool call of a session with a grant (or, with
 * `statePer: principal`, a principal) and a call or duration budget is counted in `grant_usage` in the
 * shared PostgreSQL before it is decided, whichever instance serves it. The count is a conditional
 * increment: past the budget it is refused and the call gets `budgetExceeded`; the duration runs from
 * the grant's first call anywhere. A store that cannot answer denies the call (`ERR_BUDGET_UNAVAILABLE`:
 * fail closed). The instance's own count (the intent policy, the pack's budget rules) stays as it was;
 * this adds what the other instances counted. Nothing is counted while a session is rebuilt from its
 * record (its calls were counted when they happened).
 * @example policies.push(await fleetBudget(store))
 */
export async function fleetBudget(store: PgStore, options: FleetBudgetOptions = {}): Promise<Policy> {
  await migrateFleet(store.pg);
  const action = options.budgetExceeded ?? 'halt';
  const clock = options.clock ?? Date.now;
  let counted = 0;
  const finding = (rule: string, reason: string, a: Action = action, code?: string): Finding => ({
    rule,
    action: a,
    severity: 'high',
    reason,
    ...(code && { code }),
  });
  return {
    name: 'fleet-budget',
    async evaluate({ event, session, restoring }) {
      if (restoring || event.kind !== 'request' || event.dir !== 'c2s' || event.tool === undefined)
        return ALLOW;
      const limits = session.intent.budget;
      if (limits?.calls === undefined && limits?.durationMs === undefined) return ALLOW;
      const key = scopeKey(session);
      if (key === undefined) return ALLOW;
      // PostgreSQL text holds no NUL (the key's separator): stored as its JSON string, readable and unique.
      const scope = JSON.stringify(key);
      const now = clock();
      const whose = session.intent.statePer === 'principal' ? 'principal' : 'grant';
      try {
        if (++counted % 1024 === 0)
          await store.pg.pool.query('DELETE FROM grant_usage WHERE expires_at <= $1', [now]);
        // Prepared once per connection: one budgeted call, one execution (no parse and plan each time).
        const r = await store.pg.pool.query<{ calls: number; started_at: number }>({
          name: 'ig-fleet-budget-count',
          text: COUNT,
          values: [
            scope,
            session.startedAt,
            session.identity?.expiresAt ?? now + NO_EXPIRY_MS,
            limits.calls ?? Number.MAX_SAFE_INTEGER,
            now,
          ],
        });
        const row = r.rows[0];
        if (!row)
          return verdictOf([
            finding(
              'fleet/budget-calls',
              `a call past the approved budget of ${limits.calls} tool calls (counted over every instance of the fleet for this ${whose})`,
            ),
          ]);
        if (limits.durationMs !== undefined && event.time - row.started_at > limits.durationMs)
          return verdictOf([
            finding(
              'fleet/budget-duration',
              `exceeded the approved duration of ${limits.durationMs} ms (since this ${whose}'s first call on any instance of the fleet)`,
            ),
          ]);
        return ALLOW;
      } catch (e) {
        return verdictOf([
          finding(
            'fleet/budget-unavailable',
            `the ${whose}'s budget could not be counted in ${store.display} (${(e as Error).message}); the call is denied`,
            'deny',
            'ERR_BUDGET_UNAVAILABLE',
          ),
        ]);
      }
    },
  };
}
