import type { Store } from '../store/db.js';

/** Revoked grants (by jti) and subjects. Persisted when a store is given, so new sessions see them. */
export interface Revocations {
  revoke(target: { jti?: string; sub?: string }, reason: string, expiresAt?: number): void;
  isRevoked(jti: string, sub: string, now: number): boolean;
  list(): { jti: string | null; sub: string | null; reason: string; revoked_at: number; expires_at: number | null }[];
}

/**
 * Revocation list: in memory, backed by the `revocations` table when a store is given. A jti
 * revocation lasts until the grant would have expired anyway; a sub revocation until lifted.
 */
export function createRevocations(store?: Store, clock: () => number = Date.now): Revocations {
  const memory: { jti: string | null; sub: string | null; reason: string; revoked_at: number; expires_at: number | null }[] = [];
  const db = store?.db;
  const ins = db?.prepare('INSERT INTO revocations (jti, sub, reason, revoked_at, expires_at) VALUES (?, ?, ?, ?, ?)');
  const check = db?.prepare('SELECT 1 FROM revocations WHERE (jti = ? OR sub = ?) AND (expires_at IS NULL OR expires_at > ?) LIMIT 1');
  return {
    revoke(target, reason, expiresAt) {
      const row = { jti: target.jti ?? null, sub: target.jti ? null : target.sub ?? null, reason, revoked_at: clock(), expires_at: expiresAt ?? null };
      if (!row.jti && !row.sub) throw new Error('revoke needs a jti or a sub');
      if (ins) ins.run(row.jti, row.sub, row.reason, row.revoked_at, row.expires_at);
      else memory.push(row);
    },
    isRevoked(jti, sub, now) {
      if (check) return check.get(jti, sub, now) !== undefined;
      return memory.some((r) => (r.jti === jti || r.sub === sub) && (r.expires_at === null || r.expires_at > now));
    },
    list: () => (db ? (db.prepare('SELECT jti, sub, reason, revoked_at, expires_at FROM revocations ORDER BY rowid').all() as ReturnType<Revocations['list']>) : [...memory]),
  };
}
