import type Database from 'better-sqlite3';

/**
 * Where redeemed requestState nonces are remembered, so each state is single-use
 * (basic/patterns/mrtr.mdx: "Servers for which a given requestState must be consumed at most once …
 * MUST enforce that invariant server-side").
 */
export interface RedemptionLedger {
  /** Record a nonce as redeemed. True the first time, false when it was already redeemed. */
  redeem(nonce: string, expiresAt: number, now: number): boolean;
  /**
   * A ledger shared over the network (a fleet's PostgreSQL) cannot answer on the traffic path: the state
   * is redeemed locally by `redeem`, and this confirms it fleet-wide before the approval it carries is
   * used — false (or a rejection: fail closed) when another instance redeemed it first.
   */
  confirm?(nonce: string, expiresAt: number, now: number): Promise<boolean>;
}

/** An in-process ledger (tests, and a proxy without a store). Expired nonces are dropped as it goes. */
export function memoryLedger(): RedemptionLedger {
  const used = new Map<string, number>();
  return {
    redeem(nonce, expiresAt, now) {
      if (used.size > 1024) for (const [n, e] of used) if (e <= now) used.delete(n);
      if (used.has(nonce)) return false;
      used.set(nonce, expiresAt);
      return true;
    },
  };
}

/**
 * A ledger in the SQLite store (table `mrtr_redeemed`, created here when absent), so redemption holds
 * across the processes — and later instances — that share one database. The insert is the check:
 * `INSERT OR IGNORE` on the primary key is atomic under SQLite's write lock.
 */
export function sqliteLedger(db: Database.Database): RedemptionLedger {
  db.exec('CREATE TABLE IF NOT EXISTS mrtr_redeemed (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)');
  const insert = db.prepare('INSERT OR IGNORE INTO mrtr_redeemed (nonce, expires_at) VALUES (?, ?)');
  const prune = db.prepare('DELETE FROM mrtr_redeemed WHERE expires_at <= ?');
  let inserted = 0;
  return {
    redeem(nonce, expiresAt, now) {
      // A nonce is only worth keeping while its state could still verify; prune now and then.
      if (++inserted % 256 === 0) prune.run(now);
      return insert.run(nonce, expiresAt).changes === 1;
    },
  };
}
