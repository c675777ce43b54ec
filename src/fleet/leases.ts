import { randomUUID } from 'node:crypto';
import type { PgStore } from '../store/pg/store.js';
import { migrateFleet } from './schema.js';

/** The database's clock in ms: every lease time is on it, so instances' clocks need not agree. */
const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * Claim `key` for this instance: a new row (the session is this one's), this instance's own row
 * renewed, or an expired row of another instance taken over. One statement, so two instances claiming
 * at once get one owner. Returns the row's session id and whose it was before (null: new).
 */
const CLAIM = `
  WITH prev AS (SELECT owner FROM session_leases WHERE key = $1)
  INSERT INTO session_leases (key, session_id, owner, address, expires_at)
    VALUES ($1, $2, $3, $4, ${NOW} + $5)
  ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, address = EXCLUDED.address,
      expires_at = EXCLUDED.expires_at
    WHERE session_leases.owner = EXCLUDED.owner OR session_leases.expires_at < ${NOW}
  RETURNING session_id, (SELECT owner FROM prev) AS prev_owner`;

/** A key as stored: PostgreSQL text holds no NUL (the session key's separator), so its JSON string. */
const stored = (key: string): string => JSON.stringify(key);

/** What a claim found. */
type Claim =
  /** This instance owns the session now; `takenOver`: it was another owner's (rebuild it from the record). */
  | { readonly mine: true; readonly sessionId: string; readonly takenOver: boolean }
  /** Another instance owns it (until `expiresAt`, the database's clock as this instance reads it). */
  | { readonly mine: false; readonly owner: string; readonly address: string; readonly waitMs: number };

/** Stateless sessions owned by one instance at a time, across a fleet (see {@link pgSessionLeases}). */
export interface SessionLeases {
  /** This instance's id (new at every start: a restarted instance owns nothing). */
  readonly owner: string;
  /** Where the other instances send this one's sessions' requests (set once listening). */
  address: string;
  readonly ttlMs: number;
  /** Claim the session of `key` (`sessionId`: the id a new session gets). Rejects when the store is away. */
  claim(key: string, sessionId: string): Promise<Claim>;
  /** This instance holds `key`'s lease now (renewed in time, not lost): no query. */
  holds(key: string): boolean;
  /** Stop renewing `key` (the session ended here); the row stays until it expires (a halt is kept). */
  drop(key: string): void;
  /** Called with each key whose lease another instance took (renewal found it gone). */
  onLost(lost: (key: string) => void): void;
  close(): Promise<void>;
}

export interface SessionLeaseOptions {
  /** How long a lease lasts unrenewed (default 3000 ms): how long a dead owner's sessions wait. */
  readonly ttlMs?: number;
  readonly address?: string;
}

/**
 * Session ownership across a fleet: a `session_leases` row per stateless session (its grant and
 * correlation) naming the owner instance and its address, with an expiry on the database's clock. The
 * owner renews all its leases in one UPDATE every third of the TTL and counts a lease valid until the
 * TTL after it sent the renewal (never past what the database granted); a lease it cannot renew in time
 * is no longer held (its requests re-claim, and fail closed while the store is away). Another instance
 * takes a lease over only once it has expired, so an owner that is alive keeps its sessions, and one
 * that died (crashed, SIGKILL, partitioned) loses them within the TTL.
 * @example const leases = await pgSessionLeases(store); await leases.claim(key, id)
 */
export async function pgSessionLeases(
  store: PgStore,
  options: SessionLeaseOptions = {},
): Promise<SessionLeases> {
  await migrateFleet(store.pg);
  const ttlMs = options.ttlMs ?? 3000;
  const owner = `ig-${randomUUID()}`;
  /** Held keys and until when (this process's clock) each is valid. */
  const held = new Map<string, number>();
  const lostHandlers: ((key: string) => void)[] = [];
  let renewing = false;
  let closed = false;

  const renew = async () => {
    if (renewing || held.size === 0) return;
    renewing = true;
    const sent = Date.now();
    const keys = [...held.keys()];
    try {
      const r = await store.pg.pool.query<{ key: string }>(
        `UPDATE session_leases SET expires_at = ${NOW} + $3 WHERE owner = $1 AND key = ANY($2) RETURNING key`,
        [owner, keys.map(stored), ttlMs],
      );
      const kept = new Set(r.rows.map((row) => JSON.parse(row.key) as string));
      for (const k of keys) {
        if (!held.has(k)) continue;
        if (kept.has(k)) held.set(k, sent + ttlMs);
        else {
          held.delete(k);
          for (const l of lostHandlers) l(k);
        }
      }
    } catch {
      // The store is away: the leases run out on their own (held() turns false), and requests re-claim.
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(ttlMs / 3)));
  timer.unref();

  const leases: SessionLeases = {
    owner,
    address: options.address ?? '',
    ttlMs,
    async claim(key, sessionId) {
      const sent = Date.now();
      const r = await store.pg.pool.query<{ session_id: string; prev_owner: string | null }>(CLAIM, [
        stored(key),
        sessionId,
        owner,
        leases.address,
        ttlMs,
      ]);
      const row = r.rows[0];
      if (row) {
        held.set(key, sent + ttlMs);
        return {
          mine: true,
          sessionId: row.session_id,
          takenOver: row.prev_owner !== null && row.prev_owner !== owner,
        };
      }
      held.delete(key);
      const other = await store.pg.pool.query<{ owner: string; address: string; wait: number }>(
        `SELECT owner, address, GREATEST(expires_at - ${NOW}, 0) AS wait FROM session_leases WHERE key = $1`,
        [stored(key)],
      );
      const o = other.rows[0];
      // Gone between the two statements (pruned): claim again.
      if (!o) return leases.claim(key, sessionId);
      return { mine: false, owner: o.owner, address: o.address, waitMs: Number(o.wait) };
    },
    holds(key) {
      // A margin of a third of the TTL: a request begun now is decided well before another can take over.
      const until = held.get(key);
      return until !== undefined && until - ttlMs / 3 > Date.now();
    },
    drop(key) {
      held.delete(key);
    },
    onLost(l) {
      lostHandlers.push(l);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      held.clear();
    },
  };
  return leases;
}
