import { readAnchor } from '../store/anchor.js';
import type { Store } from '../store/db.js';
import { revocationProblem } from '../store/audit.js';
import { IntentGuardError } from '../errors.js';
import { appendRevocation, LIFTED, type RevocationRecord } from '../store/ledger.js';

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
const targetOf = (r: Entry) => (r.jti !== null ? `jti ${r.jti}` : `sub ${r.sub}`);

/**
 * Whether `rows` (in the order written) revoke `jti` or `sub` at `now`: a revocation in force that no
 * later lift of its target (`intentguard unrevoke`, `expires_at` {@link LIFTED}) ended. `liftedElsewhere`
 * says a row was lifted by a record these rows do not hold (the database, for this process's own).
 * @example revokedIn([{ jti: 'a', sub: null, expires_at: null }], 'a', 'agent:x', Date.now()) // true
 */
export function revokedIn<E extends Entry>(
  rows: readonly E[],
  jti: string,
  sub: string,
  now: number,
  liftedElsewhere?: (r: E) => boolean,
): boolean {
  let lifted: Set<string> | undefined;
  for (let i = rows.length - 1; i >= 0; i--) {
    const r = rows[i]!;
    if (r.expires_at === LIFTED) (lifted ??= new Set()).add(targetOf(r));
    else if (matches(r, jti, sub, now) && !lifted?.has(targetOf(r)) && !liftedElsewhere?.(r)) return true;
  }
  return false;
}

/**
 * The row that lifts the revocations of `target` written before it: `ERR_NOT_REVOKED` when none of
 * them is in force (`rows` in the order written), so a typo never writes a lift of nothing.
 */
export function liftRecord(
  rows: readonly Entry[],
  target: { jti?: string; sub?: string },
  reason: string,
  at: number,
): RevocationRecord {
  const row = revocationRecord(target, `lifted: ${reason}`, at, LIFTED);
  const same = rows.filter((r) => r.jti === row.jti && r.sub === row.sub);
  if (!revokedIn(same, row.jti ?? '\u0000', row.sub ?? '\u0000', at))
    throw new IntentGuardError(
      'ERR_NOT_REVOKED',
      `${row.jti !== null ? `grant ${row.jti}` : `subject ${row.sub}`} has no revocation in force to lift`,
    );
  return row;
}

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
  // In force: not expired, and no lift of the same target written after it.
  const check = db?.prepare(
    `SELECT 1 FROM revocations r WHERE (r.jti = ? OR r.sub = ?) AND (r.expires_at IS NULL OR r.expires_at > ?)
       AND NOT EXISTS (SELECT 1 FROM revocations l WHERE l.expires_at = ${LIFTED} AND l.rowid > r.rowid
         AND l.jti IS r.jti AND l.sub IS r.sub) LIMIT 1`,
  );
  // This process's own revocations, lifted since in the database (by `intentguard unrevoke` elsewhere).
  const liftedSince = db?.prepare(
    `SELECT 1 FROM revocations WHERE expires_at = ${LIFTED} AND jti IS ? AND sub IS ? AND revoked_at >= ? LIMIT 1`,
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
      const lifted =
        liftedSince &&
        ((r: (typeof memory)[number]) => liftedSince.get(r.jti, r.sub, r.revoked_at) !== undefined);
      if (revokedIn(memory, jti, sub, now, lifted)) return true;
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

/**
 * `intentguard unrevoke`: lift the revocations of a grant (jti) or a subject in a SQLite store, by
 * appending a chained lift row (history is kept; the head anchor drops the target). Running proxies
 * see it at their next check. `ERR_NOT_REVOKED` when nothing is in force for exactly that target.
 */
export function liftRevocation(
  store: Store,
  target: { jti?: string; sub?: string },
  reason: string,
  now = Date.now(),
): RevocationRecord {
  const rows = store.db
    .prepare('SELECT jti, sub, expires_at FROM revocations WHERE jti IS ? AND sub IS ? ORDER BY rowid')
    .all(target.jti ?? null, target.jti ? null : (target.sub ?? null)) as Entry[];
  const row = liftRecord(rows, target, reason, now);
  appendRevocation(store, row, now);
  return row;
}
