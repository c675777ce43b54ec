import type { ApprovalAnswer, ApprovalChannel, ApprovalLedger } from '../approvals/approvals.js';
import { IntentGuardError } from '../errors.js';
import { GENESIS, HASHED, fieldsOf, link } from '../store/chain.js';
import type { ApprovalRecord } from '../store/ledger.js';
import { checkEpoch } from '../store/pg/keys.js';
import { migratePg } from '../store/pg/migrations.js';
import { openPool, pgError } from '../store/pg/pool.js';
import type { PgStore } from '../store/pg/store.js';
import { listenFleet, type FleetListener } from './listener.js';
import { migrateFleet } from './schema.js';

/** Taken (per transaction) by whoever appends to the approvals chain: one writer at a time across the fleet. */
const APPROVALS_LOCK = 0x1a7e_a99e;

/**
 * The approvals record of a fleet's PostgreSQL: each held call one row, chained to the previous approval
 * as on SQLite (src/store/ledger.ts), its decision sealed onto it by the instance that held the call.
 * @example createApprovals(monitor, { channels, ledger: pgApprovalLedger(store) })
 */
export function pgApprovalLedger(store: PgStore): ApprovalLedger {
  return {
    append: (a: ApprovalRecord) =>
      store.pg.transaction(async (client) => {
        await checkEpoch(client, store, store.display);
        await client.query('SELECT pg_advisory_xact_lock($1)', [APPROVALS_LOCK]);
        const prev = await client.query<{ hash: string }>(
          'SELECT hash FROM approvals WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1',
        );
        const prevHash = prev.rows[0]?.hash ?? GENESIS;
        const hash = link(
          store.key,
          prevHash,
          fieldsOf(a as unknown as Record<string, unknown>, HASHED.approvals),
        );
        await client.query(
          `INSERT INTO approvals (id, session_id, decision_id, sub, tool, args_digest, intent_version, scope, status, reason, requested_at, expires_at, hash, prev_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 'pending', $8, $9, $10, $11, $12)`,
          [
            a.id,
            a.session_id,
            a.decision_id,
            a.sub,
            a.tool,
            a.args_digest,
            a.intent_version,
            a.reason,
            a.requested_at,
            a.expires_at,
            hash,
            prevHash,
          ],
        );
      }),
    async seal(id, d) {
      const row = await store.pg.pool.query<{ hash: string | null }>(
        'SELECT hash FROM approvals WHERE id = $1',
        [id],
      );
      if (row.rows.length === 0) return;
      const decisionHash = link(
        store.key,
        row.rows[0]!.hash ?? GENESIS,
        fieldsOf(d, HASHED.approvalDecision),
      );
      await store.pg.pool.query(
        'UPDATE approvals SET status = $2, approver = $3, scope = $4, decided_at = $5, decision_hash = $6 WHERE id = $1',
        [id, d.status, d.approver, d.scope, d.decided_at, decisionHash],
      );
    },
  };
}

type Waiter = (a: ApprovalAnswer | undefined) => void;

/** A channel that waits for `intentguard approve|deny ID --store postgres://…` from anywhere, and how to stop it. */
export interface FleetApprovalChannel {
  readonly channel: ApprovalChannel;
  close(): Promise<void>;
}

/**
 * Wait for a held call's decision in the shared approvals table. The instance holding the call is the
 * one that releases it, whichever instance or host the operator decided from: the decision's UPDATE
 * fires the NOTIFY trigger, and every instance with calls held re-reads their rows (one query for all of
 * them). After a reconnect it re-reads too (a NOTIFY sent meanwhile is lost); and it re-reads every
 * `pollMs` as a backstop.
 * @example const { channel } = await pgApprovalChannel(store); createApprovals(m, { channels: [channel] })
 */
export async function pgApprovalChannel(store: PgStore, pollMs = 2000): Promise<FleetApprovalChannel> {
  await migrateFleet(store.pg);
  const waiting = new Map<string, Waiter>();
  let reading = false;
  let again = false;
  const check = async (): Promise<void> => {
    if (waiting.size === 0) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const r = await store.pg.pool.query<{
          id: string;
          status: string;
          approver: string | null;
          scope: string | null;
        }>(
          "SELECT id, status, approver, scope FROM approvals WHERE id = ANY($1) AND status IN ('cli-approved', 'cli-denied')",
          [[...waiting.keys()]],
        );
        for (const row of r.rows) {
          const w = waiting.get(row.id);
          waiting.delete(row.id);
          w?.({
            approved: row.status === 'cli-approved',
            approver: row.approver ?? 'cli',
            scope: row.scope === 'session' || row.scope === 'intent' ? row.scope : 'once',
            approvalId: row.id,
          });
        }
      } while (again && waiting.size > 0);
    } catch {
      // The store is away: the held calls wait (their own timeout denies them); the next wake re-reads.
    } finally {
      reading = false;
    }
  };
  const listener: FleetListener = await listenFleet(store.pg.url);
  listener.on((table) => {
    if (table === null || table === 'approvals') void check();
  });
  const timer = setInterval(() => void check(), pollMs);
  timer.unref();
  return {
    channel: (p, { signal }) =>
      new Promise<ApprovalAnswer | undefined>((resolve) => {
        waiting.set(p.id, resolve);
        signal.addEventListener(
          'abort',
          () => {
            waiting.delete(p.id);
            resolve(undefined);
          },
          { once: true },
        );
        void check();
      }),
    async close() {
      clearInterval(timer);
      for (const w of waiting.values()) w(undefined);
      waiting.clear();
      await listener.close();
    },
  };
}

/**
 * `intentguard approve|deny ID --store postgres://…`: decide a held call exactly once across the fleet.
 * The UPDATE is conditional on the row still pending, so of two operators (or instances) deciding at
 * once one wins and the other is told `ERR_APPROVAL_DONE`; an unknown id is `ERR_APPROVAL_NOT_FOUND`.
 * @example await decideInFleet(url, 'apr-…', true, 'alice')
 */
export async function decideInFleet(
  url: string,
  id: string,
  approve: boolean,
  approver: string,
  scope: 'once' | 'session' | 'intent' = 'once',
): Promise<{ tool: string; session: string }> {
  // No audit key needed: deciding writes no hash (the instance holding the call seals the decision).
  const pool = await openPool(url, { max: 1 });
  try {
    await migratePg(pool);
    await migrateFleet(pool);
    const r = await pool.pool.query<{ tool: string; session_id: string }>(
      "UPDATE approvals SET status = $2, approver = $3, scope = $4 WHERE id = $1 AND status = 'pending' RETURNING tool, session_id",
      [id, approve ? 'cli-approved' : 'cli-denied', approver, scope],
    );
    if (r.rows[0]) return { tool: r.rows[0].tool, session: r.rows[0].session_id };
    const row = await pool.pool.query<{ status: string }>('SELECT status FROM approvals WHERE id = $1', [id]);
    if (row.rows.length === 0) throw new IntentGuardError('ERR_APPROVAL_NOT_FOUND', `no approval ${id}`);
    throw new IntentGuardError('ERR_APPROVAL_DONE', `approval ${id} is already ${row.rows[0]!.status}`);
  } catch (e) {
    throw pgError(e, pool.display);
  } finally {
    await pool.close();
  }
}
