import { migratePg, type PgMigration } from '../store/pg/migrations.js';
import type { PgPool } from '../store/pg/pool.js';

/** The channel every instance LISTENs on; the payload is the table that changed. */
export const FLEET_CHANNEL = 'intentguard_fleet';

/**
 * The fleet's own schema (component `fleet`, versioned apart from the recording tables): triggers that
 * wake every instance when a revocation or an approval decision lands — whoever wrote it (an instance,
 * `intentguard revoke`, an operator's SQL) — the MRTR redemption ledger, and per-grant counters.
 * Never edit a shipped migration: add the next one.
 */
const FLEET_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE FUNCTION intentguard_fleet_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${FLEET_CHANNEL}', TG_TABLE_NAME);
        RETURN NULL;
      END $$;
      CREATE TRIGGER revocations_notify AFTER INSERT ON revocations
        FOR EACH STATEMENT EXECUTE FUNCTION intentguard_fleet_notify();
      CREATE TRIGGER approvals_notify AFTER INSERT OR UPDATE ON approvals
        FOR EACH STATEMENT EXECUTE FUNCTION intentguard_fleet_notify();
      -- requestState nonces redeemed anywhere in the fleet (src/mrtr/ledger.ts: single use).
      CREATE TABLE mrtr_redeemed (nonce TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
      CREATE INDEX mrtr_redeemed_expiry ON mrtr_redeemed(expires_at);
    `,
  },
  {
    version: 2,
    sql: `
      -- One budget per grant (or principal) across the fleet (src/fleet/budget.ts): tool calls counted
      -- by a conditional increment, the first call's session start for the duration budget.
      CREATE TABLE grant_usage (
        scope TEXT PRIMARY KEY,
        calls BIGINT NOT NULL,
        started_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX grant_usage_expiry ON grant_usage(expires_at);
    `,
  },
  {
    version: 3,
    sql: `
      -- Which instance owns each stateless session now (src/fleet/leases.ts): renewed while it lives,
      -- taken over by another instance once expired. Times are the database's clock (ms).
      CREATE TABLE session_leases (
        key TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        address TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX session_leases_expiry ON session_leases(expires_at);
    `,
  },
  {
    version: 4,
    sql: `
      -- Who created each task (src/fleet/tasks.ts): a task id created through one instance is refused
      -- to another grant on every instance. The first claim wins (the primary key).
      CREATE TABLE mrtr_task_owners (
        task_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX mrtr_task_owners_expiry ON mrtr_task_owners(expires_at);
    `,
  },
  {
    version: 5,
    sql: `
      -- Ownership moves from each stateless session to the state it shares (src/fleet/leases.ts): one
      -- lease per state key (a grant, a principal, or a session of its own), so every session of a
      -- grant is decided in one process. epoch counts the owners: each takeover increments it, and the
      -- recorder's rows of a session are refused once its epoch is not the lease's (fencing).
      DROP TABLE session_leases;
      CREATE TABLE state_leases (
        scope TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        address TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        epoch BIGINT NOT NULL
      );
      CREATE INDEX state_leases_expiry ON state_leases(expires_at);
      -- The sessions of each state key, and what a new owner needs to continue them: kind
      -- ('stateless' | 'http' | 'bridge'), handle (the stateless key, or the client's Mcp-Session-Id)
      -- and, for a stateful session to an HTTP upstream, the upstream's own Mcp-Session-Id.
      CREATE TABLE fleet_sessions (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL,
        kind TEXT NOT NULL,
        handle TEXT,
        upstream_sid TEXT,
        started_at BIGINT NOT NULL
      );
      CREATE INDEX fleet_sessions_scope ON fleet_sessions(scope);
      CREATE INDEX fleet_sessions_handle ON fleet_sessions(kind, handle);
    `,
  },
];

/** Bring the fleet tables up to date (after the recording tables, which they refer to). */
export const migrateFleet = (p: PgPool): Promise<number> => migratePg(p, 'fleet', FLEET_MIGRATIONS);
