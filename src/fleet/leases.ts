import { randomUUID } from 'node:crypto';
import type { PgStore } from '../store/pg/store.js';
import { migrateFleet } from './schema.js';

/** The database's clock in ms: every lease time is on it, so instances' clocks need not agree. */
const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * Claim the state key `$1` for this instance: a new row (the state is this one's), this instance's own
 * row renewed, or an expired row of another instance taken over — its epoch then one more (the fencing
 * token the recorder checks). One statement, so two instances claiming at once get one owner. Returns
 * the epoch and whose the row was before (null: new).
 */
const CLAIM = `
  WITH prev AS (SELECT owner FROM state_leases WHERE scope = $1)
  INSERT INTO state_leases (scope, owner, address, expires_at, epoch)
    VALUES ($1, $2, $3, ${NOW} + $4, 1)
  ON CONFLICT (scope) DO UPDATE SET owner = EXCLUDED.owner, address = EXCLUDED.address,
      expires_at = EXCLUDED.expires_at,
      epoch = CASE WHEN state_leases.owner = EXCLUDED.owner THEN state_leases.epoch ELSE state_leases.epoch + 1 END
    WHERE state_leases.owner = EXCLUDED.owner OR state_leases.expires_at < ${NOW}
  RETURNING epoch, (SELECT owner FROM prev) AS prev_owner`;

/** A key as stored: PostgreSQL text holds no NUL (the session key's separator), so its JSON string. */
export const stored = (key: string): string => JSON.stringify(key);

/** What a claim found. */
type Claim =
  /**
   * This instance owns the state now; `takenOver`: it was another owner's (rebuild it from the record);
   * `epoch`: the lease's fencing token, one more at each change of owner.
   */
  | { readonly mine: true; readonly takenOver: boolean; readonly epoch: number }
  /** Another instance owns it (until `expiresAt`, the database's clock as this instance reads it). */
  | { readonly mine: false; readonly owner: string; readonly address: string; readonly waitMs: number };

/** State keys (a grant, a principal, a session of its own) owned by one instance at a time, across a fleet (see {@link pgSessionLeases}). */
export interface SessionLeases {
  /** This instance's id (new at every start: a restarted instance owns nothing). */
  readonly owner: string;
  /** Where the other instances send this one's sessions' requests (set once listening). */
  address: string;
  readonly ttlMs: number;
  /** Claim the state of `key`. Rejects when the store is away. */
  claim(key: string): Promise<Claim>;
  /** The epoch this instance holds `key` under (undefined: not held): the recorder's fencing token. */
  epoch(key: string): number | undefined;
  /** This instance holds `key`'s lease now (renewed in time, not lost): no query. */
  holds(key: string): boolean;
  /** Stop renewing `key` (no session of it is left here); the row stays until it expires. */
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
 * State ownership across a fleet: a `state_leases` row per state key — the grant (or, with `statePer:
 * principal`, the principal) whose budget and provenance every session of it shares, or one session's
 * own key when it has no grant id — naming the owner instance, its address and the epoch (how many
 * owners it had), with an expiry on the database's clock. Every session of a key is served by its
 * owner, stateless or stateful, so a grant's state lives in one process. The
 * owner renews all its leases in one UPDATE every third of the TTL and counts a lease valid until the
 * TTL after it sent the renewal (never past what the database granted); a lease it cannot renew in time
 * is no longer held (its requests re-claim, and fail closed while the store is away). Another instance
 * takes a lease over only once it has expired, so an owner that is alive keeps its sessions, and one
 * that died (crashed, SIGKILL, partitioned) loses them within the TTL.
 * @example const leases = await pgSessionLeases(store); await leases.claim(scope)
 */
export async function pgSessionLeases(
  store: PgStore,
  options: SessionLeaseOptions = {},
): Promise<SessionLeases> {
  await migrateFleet(store.pg);
  const ttlMs = options.ttlMs ?? 3000;
  const owner = `ig-${randomUUID()}`;
  /** Held keys: until when (this process's clock) each is valid, and its epoch. */
  const held = new Map<string, { until: number; epoch: number }>();
  const lostHandlers: ((key: string) => void)[] = [];
  let renewing = false;
  let closed = false;

  const renew = async () => {
    if (renewing || held.size === 0) return;
    renewing = true;
    const sent = Date.now();
    const keys = [...held.keys()];
    try {
      const r = await store.pg.pool.query<{ scope: string }>(
        `UPDATE state_leases SET expires_at = ${NOW} + $3 WHERE owner = $1 AND scope = ANY($2) RETURNING scope`,
        [owner, keys.map(stored), ttlMs],
      );
      const kept = new Set(r.rows.map((row) => JSON.parse(row.scope) as string));
      for (const k of keys) {
        const h = held.get(k);
        if (!h) continue;
        if (kept.has(k)) h.until = sent + ttlMs;
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
    async claim(key) {
      const sent = Date.now();
      const r = await store.pg.pool.query<{ epoch: number; prev_owner: string | null }>(CLAIM, [
        stored(key),
        owner,
        leases.address,
        ttlMs,
      ]);
      const row = r.rows[0];
      if (row) {
        held.set(key, { until: sent + ttlMs, epoch: Number(row.epoch) });
        return {
          mine: true,
          takenOver: row.prev_owner !== null && row.prev_owner !== owner,
          epoch: Number(row.epoch),
        };
      }
      held.delete(key);
      const other = await store.pg.pool.query<{ owner: string; address: string; wait: number }>(
        `SELECT owner, address, GREATEST(expires_at - ${NOW}, 0) AS wait FROM state_leases WHERE scope = $1`,
        [stored(key)],
      );
      const o = other.rows[0];
      // Gone between the two statements (pruned): claim again.
      if (!o) return leases.claim(key);
      return { mine: false, owner: o.owner, address: o.address, waitMs: Number(o.wait) };
    },
    epoch: (key) => held.get(key)?.epoch,
    holds(key) {
      // A margin of a third of the TTL: a request begun now is decided well before another can take over.
      const h = held.get(key);
      return h !== undefined && h.until - ttlMs / 3 > Date.now();
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
