import { readAnchor } from '../store/anchor.js';
import type { Store } from '../store/db.js';
import { revocationProblem } from '../store/audit.js';
import { appendRevocation, type RevocationRecord } from '../store/ledger.js';

/** Revoked grants (by jti) and subjects. Persisted when a store is given, so new sessions see them. */
export interface Revocations {
  revoke(target: { jti?: string; sub?: string }, reason: string, expiresAt?: number): void;
  /** True when revoked — and for every grant while the revocation record is found tampered with (fail closed). */
  isRevoked(jti: string, sub: string, now: number): boolean;
  /** Why the revocation record cannot be trusted (a gap in its chain, a deleted row, no head anchor), if so. */
  tampered(): string | undefined;
  list(): {
    jti: string | null;
    sub: string | null;
    reason: string;
    revoked_at: number;
    expires_at: number | null;
  }[];
}

/** The row a revocation writes: a jti (it wins) or a sub, until `expiresAt` (or until lifted). */
export function revocationRecord(
  target: { jti?: string; sub?: string },
  reason: string,
  at: number,
  expiresAt?: number,
): RevocationRecord {
  const row: RevocationRecord = {
    jti: target.jti ?? null,
    sub: target.jti ? null : (target.sub ?? null),
    reason,
    revoked_at: at,
    expires_at: expiresAt ?? null,
  };
  if (!row.jti && !row.sub) throw new Error('revoke needs a jti or a sub');
  return row;
}

type Entry = { jti: string | null; sub: string | null; expires_at: number | null };
const matches = (r: Entry, jti: string, sub: string, now: number) =>
  (r.jti === jti || r.sub === sub) && (r.expires_at === null || r.expires_at > now);

/**
 * Revocation list: in memory, backed by the `revocations` table when a store is given. A jti
 * revocation lasts until the grant would have expired anyway; a sub revocation until lifted.
 * Deleting a row does not undo a revocation: each is also kept in the head anchor beside the key
 * (HMAC'd, outside the database) and in this process's memory, and both are checked too; and while the
 * revocation record shows a gap (a chain break, a row missing against the anchor, the anchor deleted or
 * forged) every grant is refused.
 */
export function createRevocations(store?: Store, clock: () => number = Date.now): Revocations {
  const memory: {
    jti: string | null;
    sub: string | null;
    reason: string;
    revoked_at: number;
    expires_at: number | null;
  }[] = [];
  const db = store?.db;
  const check = db?.prepare(
    'SELECT 1 FROM revocations WHERE (jti = ? OR sub = ?) AND (expires_at IS NULL OR expires_at > ?) LIMIT 1',
  );
  // The record is re-checked whenever rows come or go (and when the anchor file changes).
  const shape = db?.prepare("SELECT count(*) || ':' || ifnull(max(rowid), 0) FROM revocations").pluck();
  let checkedShape: string | undefined;
  let problem: string | undefined;
  const tampered = (): string | undefined => {
    if (!store || !shape) return undefined;
    const now = `${shape.get() as string}:${JSON.stringify(readAnchor(store.path, store.keys).anchor?.heads.revocations ?? null)}`;
    if (now !== checkedShape) {
      checkedShape = now;
      const p = revocationProblem(store);
      problem = p && `${p.table} row ${p.rowid}: ${p.kind}: ${p.detail}`;
    }
    return problem;
  };
  const anchored = (jti: string, sub: string, now: number) => {
    if (!store || store.path === ':memory:') return false;
    const revoked = readAnchor(store.path, store.keys).anchor?.revoked ?? [];
    return revoked.some(([j, s, e]) => matches({ jti: j, sub: s, expires_at: e }, jti, sub, now));
  };
  return {
    revoke(target, reason, expiresAt) {
      const row = revocationRecord(target, reason, clock(), expiresAt);
      if (store) appendRevocation(store, row, row.revoked_at);
      memory.push(row);
    },
    isRevoked(jti, sub, now) {
      if (memory.some((r) => matches(r, jti, sub, now))) return true;
      if ((check !== undefined && check.get(jti, sub, now) !== undefined) || anchored(jti, sub, now))
        return true;
      // A revocation whose row and anchor entry are both gone leaves a gap in the chain: refuse then.
      return tampered() !== undefined;
    },
    tampered,
    list: () =>
      db
        ? (db
            .prepare('SELECT jti, sub, reason, revoked_at, expires_at FROM revocations ORDER BY rowid')
            .all() as ReturnType<Revocations['list']>)
        : [...memory],
  };
}
