import type { Store } from '../store/db.js';

/** An approval as `intentguard approvals` shows it. */
export interface ApprovalListing {
  readonly id: string;
  readonly session: string;
  /** The agent identity (grant `sub`), `unverified` without a grant. */
  readonly agent: string;
  readonly tool: string;
  /** Why the call was held: the reasons of the findings that asked for re-authorization. */
  readonly reason: string;
  /**
   * `pending` (waiting for an answer), `answered` (decided by `intentguard approve|deny`, not yet taken
   * up by the proxy), `unanswered` (past its expiry with no decision recorded: its proxy stopped), or the
   * recorded outcome: `approved`, `denied`, `expired`, `rejected`.
   */
  readonly state: string;
  readonly approver: string | null;
  readonly scope: string | null;
  readonly requestedAt: number;
  readonly expiresAt: number | null;
  readonly decidedAt: number | null;
}

interface Row {
  id: string;
  session_id: string;
  sub: string | null;
  tool: string | null;
  reason: string | null;
  status: string;
  approver: string | null;
  scope: string | null;
  requested_at: number;
  expires_at: number | null;
  decided_at: number | null;
}

const stateOf = (r: Row, now: number): string =>
  r.status === 'pending'
    ? r.expires_at !== null && r.expires_at <= now
      ? 'unanswered'
      : 'pending'
    : r.status.startsWith('cli-')
      ? 'answered'
      : r.status;

/**
 * Approvals in the record, oldest first: only those still waiting for an answer (`pending`), or all.
 *
 * @example listApprovals(store, { state: 'pending', now: Date.now() })
 */
export function listApprovals(
  store: Store,
  opts: { state: 'pending' | 'all'; now: number },
): ApprovalListing[] {
  const rows = store.db
    .prepare(
      `SELECT id, session_id, sub, tool, reason, status, approver, scope, requested_at, expires_at, decided_at
       FROM approvals WHERE ? = 'all' OR (status = 'pending' AND (expires_at IS NULL OR expires_at > ?))
       ORDER BY rowid`,
    )
    .all(opts.state, opts.now) as Row[];
  return rows.map((r) => ({
    id: r.id,
    session: r.session_id,
    agent: r.sub ?? 'unverified',
    tool: r.tool ?? '',
    reason: r.reason ?? '',
    state: stateOf(r, opts.now),
    approver: r.approver,
    scope: r.scope,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    decidedAt: r.decided_at,
  }));
}
