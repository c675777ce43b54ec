import type { SharedApproval } from '../mrtr/url-approvals.js';
import type { PgStore } from '../store/pg/store.js';

/**
 * Where a URL-mode approval stands in a fleet's approvals table, for an instance that did not hold it
 * (it took the session over from the one that did): decided by an approver (`cli-approved` from the
 * console or `intentguard approve`, or `approved` once the holder sealed it), still `pending`, or
 * anything else (denied, expired, rejected). The gate still uses an approval once fleet-wide (its id
 * redeemed in `mrtr_redeemed`), so reading it here never releases a call twice.
 * @example createEraGate({ key, page: { url, shared: pgSharedApprovals(store) } })
 */
export function pgSharedApprovals(store: PgStore): (id: string) => Promise<SharedApproval> {
  return async (id) => {
    const r = await store.pg.pool.query<{
      status: string;
      expires_at: string | number;
      scope: string | null;
      approver: string | null;
    }>('SELECT status, expires_at, scope, approver FROM approvals WHERE id = $1', [id]);
    const row = r.rows[0];
    if (!row) return { state: 'unknown' };
    const expiresAt = Number(row.expires_at);
    const state =
      row.status === 'cli-approved' || row.status === 'approved'
        ? 'approved'
        : row.status === 'pending'
          ? 'pending'
          : 'denied';
    const scope = row.scope === 'session' || row.scope === 'intent' ? row.scope : 'once';
    return { state, expiresAt, scope, ...(row.approver !== null && { approver: row.approver }) };
  };
}
