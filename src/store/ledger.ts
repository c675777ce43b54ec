import { anchoredTransaction } from './anchor.js';
import { GENESIS, HASHED, fieldsOf, link } from './chain.js';
import type { Store } from './db.js';

/** An approval as first written (held, waiting for an answer). */
export interface ApprovalRecord {
  id: string;
  session_id: string;
  decision_id: string | null;
  sub: string;
  tool: string;
  args_digest: string;
  intent_version: number;
  reason: string;
  requested_at: number;
  expires_at: number;
}

/**
 * `expires_at` of a lift (`intentguard unrevoke`): the row ends the revocations of its target (the same
 * jti, or the same sub) written before it, and is never in force itself. Chained like any revocation,
 * so a lift written without the audit key breaks the chain (every grant refused: fail closed).
 */
export const LIFTED = 0;

/** A revocation as written. */
export interface RevocationRecord {
  jti: string | null;
  sub: string | null;
  reason: string;
  revoked_at: number;
  expires_at: number | null;
}

const headOf = (store: Store, table: 'approvals' | 'revocations') =>
  (store.db
    .prepare(`SELECT hash FROM ${table} WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1`)
    .pluck()
    .get() as string | undefined) ?? GENESIS;

/**
 * Write a held approval, chained to the previous approval (insertion order) and listed in the head
 * anchor as undecided, in one transaction (writers in other processes take turns on SQLite's lock).
 */
export function appendApproval(store: Store, a: ApprovalRecord): void {
  anchoredTransaction(
    store,
    () => {
      const prev = headOf(store, 'approvals');
      const hash = link(store.key, prev, fieldsOf(a as unknown as Record<string, unknown>, HASHED.approvals));
      return Number(
        store.db
          .prepare(
            `INSERT INTO approvals (id, session_id, decision_id, sub, tool, args_digest, intent_version, scope, status, reason, requested_at, expires_at, hash, prev_hash)
      VALUES (@id, @session_id, @decision_id, @sub, @tool, @args_digest, @intent_version, NULL, 'pending', @reason, @requested_at, @expires_at, @hash, @prev_hash)`,
          )
          .run({ ...a, hash, prev_hash: prev }).lastInsertRowid,
      );
    },
    (x, rowid) => {
      x.undecided = [...x.undecided, rowid];
    },
  );
}

/** Seal an approval's decision (who, what scope, when) onto its row's hash; it leaves the anchor's undecided list. */
export function sealApproval(
  store: Store,
  id: string,
  d: { status: string; approver: string; scope: string | null; decided_at: number },
): void {
  anchoredTransaction(
    store,
    () => {
      const row = store.db.prepare('SELECT rowid, hash FROM approvals WHERE id = ?').get(id) as
        { rowid: number; hash: string | null } | undefined;
      if (!row) return undefined;
      const decision_hash = link(store.key, row.hash ?? GENESIS, fieldsOf(d, HASHED.approvalDecision));
      store.db
        .prepare(
          'UPDATE approvals SET status = @status, approver = @approver, scope = @scope, decided_at = @decided_at, decision_hash = @decision_hash WHERE id = @id',
        )
        .run({ ...d, decision_hash, id });
      return row.rowid;
    },
    (x, rowid) => {
      x.undecided = x.undecided.filter((r) => r !== rowid);
    },
  );
}

/**
 * Write a revocation, chained to the previous one, and put it in the head anchor's list of revocations
 * in force (dropping expired ones), where a deleted row cannot undo it.
 */
export function appendRevocation(store: Store, r: RevocationRecord, now: number): void {
  anchoredTransaction(
    store,
    () => {
      const prev = headOf(store, 'revocations');
      const hash = link(
        store.key,
        prev,
        fieldsOf(r as unknown as Record<string, unknown>, HASHED.revocations),
      );
      store.db
        .prepare(
          'INSERT INTO revocations (jti, sub, reason, revoked_at, expires_at, hash, prev_hash) VALUES (@jti, @sub, @reason, @revoked_at, @expires_at, @hash, @prev_hash)',
        )
        .run({ ...r, hash, prev_hash: prev });
    },
    (x) => {
      const kept = x.revoked.filter((v) => v[2] === null || v[2] > now);
      x.revoked =
        r.expires_at === LIFTED
          ? kept.filter((v) => v[0] !== r.jti || v[1] !== r.sub)
          : [...kept, [r.jti, r.sub, r.expires_at]];
    },
  );
}
