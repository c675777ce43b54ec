import { liftRecord, revocationRecord, revokedIn, type Revocations } from '../identity/revocations.js';
import { GENESIS, HASHED, fieldsOf, link } from '../store/chain.js';
import type { RevocationRecord } from '../store/ledger.js';
import { checkEpoch } from '../store/pg/keys.js';
import { openPgStore, type PgStore } from '../store/pg/store.js';
import { listenFleet, type FleetListener } from './listener.js';
import { migrateFleet } from './schema.js';

/** Append one revocation to the shared chain (under the fleet-wide lock); the trigger NOTIFYs on commit. */
function writeRevocation(store: PgStore, row: RevocationRecord): Promise<void> {
  return store.pg.transaction(async (client) => {
    await checkEpoch(client, store, store.display);
    await client.query('SELECT pg_advisory_xact_lock($1)', [REVOCATIONS_LOCK]);
    const prev = await client.query<{ hash: string }>(
      'SELECT hash FROM revocations WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1',
    );
    const prevHash = prev.rows[0]?.hash ?? GENESIS;
    const fields = fieldsOf(row as unknown as Record<string, unknown>, HASHED.revocations);
    await client.query(
      'INSERT INTO revocations (jti, sub, reason, revoked_at, expires_at, hash, prev_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [
        row.jti,
        row.sub,
        row.reason,
        row.revoked_at,
        row.expires_at,
        link(store.key, prevHash, fields),
        prevHash,
      ],
    );
  });
}

/** Taken (per transaction) by whoever appends to the revocations chain: one writer at a time across the fleet. */
const REVOCATIONS_LOCK = 0x1a7e_4e70;

/** Revocations shared by a fleet: this instance's set, kept current by NOTIFY, and how to stop keeping it. */
export interface FleetRevocations extends Revocations {
  /** Write a revocation to the shared table (chained) and wake every instance; resolves once committed. */
  revokeShared(target: { jti?: string; sub?: string }, reason: string, expiresAt?: number): Promise<void>;
  /** Re-read the table now (what the listener does on every wake). */
  refresh(): Promise<void>;
  /** Revocations this instance has read so far (rows). */
  readonly seen: number;
  close(): Promise<void>;
}

export interface FleetRevocationOptions {
  readonly clock?: () => number;
  /**
   * How long the instance may be without its NOTIFY connection before it refuses every grant (default
   * 1000 ms, the propagation target): past that it could be missing a revocation, so it fails closed
   * until it has reconnected and re-read the table.
   */
  readonly staleMs?: number;
  readonly reconnectMs?: number;
}

type Row = RevocationRecord & { rowid: number; hash: string | null; prev_hash: string | null };

/**
 * Revocations across a fleet on one PostgreSQL: the `revocations` table (HMAC-chained as on SQLite) is
 * the record; a trigger NOTIFYs every instance when a row lands, and each instance keeps a local set it
 * checks on every call (no query on the traffic path). A NOTIFY sent while an instance's connection was
 * down is lost, so on every reconnect the instance re-reads everything after the last row it has; while
 * disconnected longer than `staleMs` it refuses every grant (fail closed). A row that does not verify
 * against its chain (edited, inserted, one deleted before it) marks the record tampered: every grant is
 * refused then, as with SQLite. A deleted row does not undo a revocation an instance has already read.
 * @example const r = await pgRevocations(store); r.isRevoked(jti, sub, Date.now())
 */
export async function pgRevocations(
  store: PgStore,
  options: FleetRevocationOptions = {},
): Promise<FleetRevocations> {
  const clock = options.clock ?? Date.now;
  const staleMs = options.staleMs ?? 1000;
  const memory: (RevocationRecord & { rowid?: number })[] = [];
  let last = 0;
  let head = GENESIS;
  let problem: string | undefined;
  let reading: Promise<void> | undefined;
  let again = false;
  /** Revocations of this instance whose write failed: retried on the next wake (reconnect). */
  const unwritten: RevocationRecord[] = [];

  const read = async (): Promise<void> => {
    const r = await store.pg.pool.query<Row>(
      'SELECT rowid, jti, sub, reason, revoked_at, expires_at, hash, prev_hash FROM revocations WHERE rowid > $1 ORDER BY rowid',
      [last],
    );
    for (const row of r.rows) {
      const rec: RevocationRecord = {
        jti: row.jti,
        sub: row.sub,
        reason: row.reason,
        revoked_at: Number(row.revoked_at),
        expires_at: row.expires_at === null ? null : Number(row.expires_at),
      };
      if (row.hash !== null || row.prev_hash !== null) {
        const expect = link(
          store.key,
          row.prev_hash ?? '',
          fieldsOf(rec as unknown as Record<string, unknown>, HASHED.revocations),
        );
        if (row.prev_hash !== head || row.hash !== expect)
          problem ??= `revocations row ${row.rowid}: ${row.prev_hash !== head ? 'does not follow the row before it (a row deleted or inserted)' : 'edited (its hash does not match)'}`;
        head = row.hash ?? head;
      } else problem ??= `revocations row ${row.rowid}: not chained (written outside intentguard)`;
      // Kept either way: a row that does not verify still revokes (fail closed, never open).
      memory.push({ ...rec, rowid: row.rowid });
      last = row.rowid;
    }
  };
  const refresh = (): Promise<void> => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      try {
        do {
          again = false;
          await read();
        } while (again);
        while (unwritten.length > 0) {
          await write(unwritten[0]!);
          unwritten.shift();
        }
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };
  const write = (row: RevocationRecord) => writeRevocation(store, row);

  let listener: FleetListener | undefined;
  await migrateFleet(store.pg);
  listener = await listenFleet(store.pg.url, {
    ...(options.reconnectMs !== undefined && { reconnectMs: options.reconnectMs }),
  });
  listener.on((table) => {
    // After a reconnect the listener waits for this re-read before it counts itself fresh.
    if (table === null) return refresh();
    if (table === 'revocations') refresh().catch(() => undefined);
    return undefined;
  });
  await refresh();

  const stale = (): string | undefined => {
    const lostAt = listener?.lostAt;
    return lostAt !== undefined && Date.now() - lostAt > staleMs
      ? `the revocation feed from ${store.display} is down since ${new Date(lostAt).toISOString()}`
      : undefined;
  };
  return {
    revoke(target, reason, expiresAt) {
      const row = revocationRecord(target, reason, clock(), expiresAt);
      memory.push(row);
      write(row).catch(() => unwritten.push(row));
    },
    async revokeShared(target, reason, expiresAt) {
      const row = revocationRecord(target, reason, clock(), expiresAt);
      memory.push(row);
      await write(row);
    },
    isRevoked(jti, sub, now) {
      // A lift row read from the table (`intentguard unrevoke`) ends the revocations of its target before it.
      if (revokedIn(memory, jti, sub, now)) return true;
      return problem !== undefined || stale() !== undefined;
    },
    tampered: () => problem ?? stale(),
    list: () =>
      memory
        .filter((r) => r.rowid !== undefined)
        .map(({ jti, sub, reason, revoked_at, expires_at }) => ({
          jti,
          sub,
          reason,
          revoked_at,
          expires_at,
        })),
    refresh,
    get seen() {
      return last;
    },
    async close() {
      await listener?.close();
      listener = undefined;
    },
  };
}

/**
 * `intentguard revoke` on a fleet's store: one chained row in the shared table; its trigger wakes every
 * instance. Returns where (the URL without its password).
 * @example await revokeInFleet('postgres://ig@db/intentguard', { jti }, 'stolen laptop')
 */
export async function revokeInFleet(
  url: string,
  target: { jti?: string; sub?: string },
  reason: string,
  keyFile?: string,
): Promise<string> {
  const store = await openPgStore(url, { ...(keyFile && { keyFile }) });
  try {
    await migrateFleet(store.pg);
    const row = revocationRecord(target, reason, Date.now());
    await writeRevocation(store, row);
    return store.display;
  } finally {
    await store.close();
  }
}

/**
 * `intentguard unrevoke` on a fleet's store: one chained lift row in the shared table (its trigger
 * wakes every instance, which stops refusing the target). `ERR_NOT_REVOKED` when nothing is in force
 * for exactly that target. Returns where (the URL without its password).
 * @example await unrevokeInFleet('postgres://ig@db/intentguard', { sub: 'agent:x' }, 'laptop found')
 */
export async function unrevokeInFleet(
  url: string,
  target: { jti?: string; sub?: string },
  reason: string,
  keyFile?: string,
): Promise<string> {
  const store = await openPgStore(url, { ...(keyFile && { keyFile }) });
  try {
    await migrateFleet(store.pg);
    const jti = target.jti ?? null;
    const sub = jti === null ? (target.sub ?? null) : null;
    const rows = await store.pg.pool.query<{
      jti: string | null;
      sub: string | null;
      expires_at: string | null;
    }>(
      'SELECT jti, sub, expires_at FROM revocations WHERE jti IS NOT DISTINCT FROM $1 AND sub IS NOT DISTINCT FROM $2 ORDER BY rowid',
      [jti, sub],
    );
    const row = liftRecord(
      rows.rows.map((r) => ({ ...r, expires_at: r.expires_at === null ? null : Number(r.expires_at) })),
      target,
      reason,
      Date.now(),
    );
    await writeRevocation(store, row);
    return store.display;
  } finally {
    await store.close();
  }
}
