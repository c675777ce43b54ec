import { digest } from '../lib/canonical.js';
import { anchoredTransaction } from './anchor.js';
import { GENESIS, HASHED, fieldsOf, link, type AuditKeys } from './chain.js';
import type { Store } from './db.js';
import { appendApproval, sealApproval, type ApprovalRecord } from './ledger.js';
import type { SqlRow } from './rows.js';

/** A grant request as first written: who asked, for which intent (its JSON), and why the rule set held it. */
interface GrantRequestRecord {
  readonly id: string;
  readonly sub: string;
  readonly act: string | null;
  readonly intent_json: string;
  readonly why: string;
  readonly requested_at: number;
  readonly expires_at: number;
}

/** A recorded grant request with its decision (the state of its approvals row). */
export interface StoredGrantRequest extends GrantRequestRecord {
  /** The approvals row's status: pending, approved, denied, expired. */
  readonly status: string;
  readonly approver: string | null;
  readonly decided_at: number | null;
}

/** A decision sealed onto a grant request's approvals row. */
interface GrantDecision {
  readonly status: string;
  readonly approver: string;
  readonly scope: string | null;
  readonly decided_at: number;
}

/**
 * Where grant requests are kept: a `grant_requests` row (chained in insertion order, each row with the
 * audit key of its epoch) beside the `approvals` row that records and seals its decision, so a console
 * restarted (or another console on the same store) shows a waiting request again and a decision taken
 * after the restart mints its grant.
 */
export interface GrantLedger {
  /** Write the request, then its approval (held for a reviewer, or decided at once by `seal`). */
  append(r: GrantRequestRecord, approval: ApprovalRecord): Promise<void>;
  seal(id: string, d: GrantDecision): Promise<void>;
  /**
   * The newest `limit` requests, oldest first, with their decisions. A row whose hash, link to the row
   * before it or binding to its approval does not verify is left out (fail closed) and named in `broken`.
   */
  load(limit: number): Promise<{ requests: StoredGrantRequest[]; broken: string[] }>;
}

/** The hash of a grant request row, chained to `prev`, with the key of `epoch`. */
export const grantRequestHash = (key: Buffer, prev: string, row: Record<string, unknown>): string =>
  link(key, prev, fieldsOf(row, HASHED.grantRequests));

/** The SELECT both backends load with: the newest rows first, each joined to its approval. */
export const GRANT_REQUESTS_SELECT = `SELECT g.rowid, g.id, g.sub, g.act, g.intent_json, g.why, g.requested_at,
  g.expires_at, g.epoch, g.hash, g.prev_hash, a.status, a.approver, a.decided_at, a.args_digest, a.sub AS approval_sub
  FROM grant_requests g JOIN approvals a ON a.id = g.id ORDER BY g.rowid DESC LIMIT`;

/**
 * Check the rows a load read (newest first, as {@link GRANT_REQUESTS_SELECT} gives them): each row's
 * hash with its epoch's key, its link to the row before it (within what was read), and the approval's
 * binding (the same identity; `args_digest` is the digest of the requested intent).
 */
export function checkedGrantRequests(
  keys: AuditKeys,
  newestFirst: readonly SqlRow[],
): { requests: StoredGrantRequest[]; broken: string[] } {
  const rows: SqlRow[] = [...newestFirst].reverse();
  const requests: StoredGrantRequest[] = [];
  const broken: string[] = [];
  rows.forEach((r, i) => {
    const key = keys.keys.get(Number(r.epoch));
    let why: string | undefined;
    if (!key) why = `no audit key of epoch ${r.epoch}`;
    else if (grantRequestHash(key, r.prev_hash, { ...r, epoch: Number(r.epoch) }) !== r.hash)
      why = 'its content does not match its hash';
    else if (i > 0 && r.prev_hash !== rows[i - 1]!.hash) why = 'it does not follow the request before it';
    else if (r.approval_sub !== r.sub || !digestMatches(r.intent_json, r.args_digest))
      why = 'its approval was written for another identity or intent';
    if (why) {
      broken.push(`grant request ${r.id}: ${why}`);
      return;
    }
    requests.push({
      id: r.id,
      sub: r.sub,
      act: r.act ?? null,
      intent_json: r.intent_json,
      why: r.why,
      requested_at: Number(r.requested_at),
      expires_at: Number(r.expires_at),
      status: r.status,
      approver: r.approver ?? null,
      decided_at: r.decided_at === null || r.decided_at === undefined ? null : Number(r.decided_at),
    });
  });
  return { requests, broken };
}

/** Whether an approvals row's `args_digest` is the digest of this requested intent. */
export function digestMatches(intentJson: string, argsDigest: unknown): boolean {
  try {
    return digest(JSON.parse(intentJson), 64) === argsDigest;
  } catch {
    return false;
  }
}

/** Grant requests in a SQLite store. */
export function sqliteGrantLedger(store: Store): GrantLedger {
  const head = store.db.prepare('SELECT hash FROM grant_requests ORDER BY rowid DESC LIMIT 1').pluck();
  const insert = store.db.prepare(
    `INSERT INTO grant_requests (id, sub, act, intent_json, why, requested_at, expires_at, epoch, hash, prev_hash)
    VALUES (@id, @sub, @act, @intent_json, @why, @requested_at, @expires_at, @epoch, @hash, @prev_hash)`,
  );
  const load = store.db.prepare(`${GRANT_REQUESTS_SELECT} ?`);
  return {
    async append(r, approval) {
      // The request first: a request without its approval row (a crash between) is never loaded.
      // Under the head anchor, which keeps the chain's head: rows cut from its end are found.
      anchoredTransaction(store, () => {
        const prev = (head.get() as string | undefined) ?? GENESIS;
        const row = { ...r, epoch: store.epoch };
        insert.run({ ...row, hash: grantRequestHash(store.key, prev, row), prev_hash: prev });
      });
      appendApproval(store, approval);
    },
    async seal(id, d) {
      sealApproval(store, id, d);
    },
    load: async (limit) => checkedGrantRequests(store, load.all(limit) as SqlRow[]),
  };
}
