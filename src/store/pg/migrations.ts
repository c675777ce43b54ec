import type pg from 'pg';
import { IntentGuardError } from '../../errors.js';
import { pgError, type PgPool } from './pool.js';

/** One schema step: applied once, in its own transaction, recorded in `schema_migrations`. */
export interface PgMigration {
  readonly version: number;
  readonly sql: string;
}

/**
 * The recording schema on PostgreSQL: the SQLite tables (src/store/migrations.ts, versions 1 and 2
 * together) with the same columns and meaning, so rows hash the same on both backends. `rowid` is the
 * insertion order (BIGSERIAL), as SQLite's rowid. Never edit a shipped migration: add the next one.
 */
export const STORE_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE sessions (
        rowid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        key TEXT NOT NULL,
        sub TEXT, iss TEXT, act TEXT, jti TEXT,
        intent_json TEXT NOT NULL,
        intent_version BIGINT NOT NULL,
        purpose TEXT NOT NULL,
        transport TEXT, transport_session_id TEXT,
        started_at BIGINT NOT NULL,
        ended_at BIGINT, outcome TEXT, calls BIGINT, drift DOUBLE PRECISION, status TEXT,
        events BIGINT, last_event_hash TEXT, last_decision_hash TEXT,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL,
        end_hash TEXT,
        chain_v INTEGER, decisions BIGINT, alerts BIGINT, last_alert_hash TEXT, seal_note TEXT
      );
      CREATE INDEX sessions_started ON sessions(started_at);
      CREATE INDEX sessions_sub ON sessions(sub);
      CREATE INDEX sessions_unsealed ON sessions(rowid) WHERE end_hash IS NULL;
      CREATE TABLE events (
        rowid BIGSERIAL PRIMARY KEY,
        session_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        time BIGINT NOT NULL,
        dir TEXT NOT NULL, kind TEXT NOT NULL, method TEXT, tool TEXT, call BIGINT, msg_id TEXT,
        bytes BIGINT NOT NULL, synthetic INTEGER NOT NULL DEFAULT 0,
        raw TEXT NOT NULL,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL,
        UNIQUE (session_id, seq)
      );
      CREATE TABLE decisions (
        rowid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        time BIGINT NOT NULL,
        action TEXT NOT NULL, enforced INTEGER NOT NULL, call BIGINT, tool TEXT,
        sub TEXT, intent_version BIGINT NOT NULL,
        findings_json TEXT NOT NULL,
        approver TEXT,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL
      );
      CREATE INDEX decisions_session ON decisions(session_id, seq);
      CREATE TABLE alerts (
        rowid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        decision_id TEXT NOT NULL,
        time BIGINT NOT NULL,
        rule TEXT NOT NULL, severity TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL,
        json TEXT NOT NULL,
        hash TEXT, prev_hash TEXT
      );
      CREATE INDEX alerts_session ON alerts(session_id);
      CREATE TABLE approvals (
        rowid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        decision_id TEXT,
        sub TEXT, tool TEXT, args_digest TEXT, intent_version BIGINT,
        scope TEXT, status TEXT NOT NULL, approver TEXT, reason TEXT,
        requested_at BIGINT NOT NULL, decided_at BIGINT, expires_at BIGINT,
        hash TEXT, prev_hash TEXT, decision_hash TEXT
      );
      CREATE TABLE revocations (
        rowid BIGSERIAL PRIMARY KEY,
        jti TEXT, sub TEXT,
        reason TEXT NOT NULL,
        revoked_at BIGINT NOT NULL,
        expires_at BIGINT,
        hash TEXT, prev_hash TEXT
      );
      CREATE INDEX revocations_jti ON revocations(jti);
      CREATE INDEX revocations_sub ON revocations(sub);
      CREATE TABLE audit_anchors (
        rowid BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        at BIGINT NOT NULL,
        detail TEXT NOT NULL,
        session_prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL
      );
      -- The audit key's public fingerprint per epoch (never the key: that stays in a file beside the config).
      CREATE TABLE audit_keys (
        epoch INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        registered_at BIGINT NOT NULL
      );
    `,
  },
  {
    // SQLite migration 3: grant requests, chained (src/store/grant-requests.ts).
    version: 2,
    sql: `
      CREATE TABLE grant_requests (
        rowid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        sub TEXT NOT NULL, act TEXT,
        intent_json TEXT NOT NULL,
        why TEXT NOT NULL,
        requested_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
        epoch INTEGER NOT NULL,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL
      );
    `,
  },
];

/** The advisory lock every migrating instance takes (one at a time; the others wait, then find nothing to do). */
const MIGRATION_LOCK = 0x1a7e_6a4d;

/**
 * Bring `component`'s schema to its latest version: each missing version applied once, in its own
 * transaction, and recorded in `schema_migrations (component, version)`. Instances starting at once are
 * safe: they take a session advisory lock in turn, and each re-reads what is applied under it. Other
 * parts (the fleet tables) pass their own component name and list. Returns the version reached.
 * @example await migratePg(pool) // the recording tables
 */
export async function migratePg(
  p: PgPool,
  component = 'store',
  migrations: readonly PgMigration[] = STORE_MIGRATIONS,
): Promise<number> {
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  const client = await p.pool.connect().catch((e: unknown) => {
    throw pgError(e, p.display);
  });
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
          component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
          PRIMARY KEY (component, version))`,
      );
      let version = await current(client, component);
      if (version > latest)
        throw new IntentGuardError(
          'ERR_STORE_SCHEMA',
          `${p.display}: ${component} schema version ${version} is newer than this intentguard (${latest})`,
        );
      for (const m of migrations) {
        if (m.version <= version) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (component, version) VALUES ($1, $2)', [
            component,
            m.version,
          ]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          const err = pgError(e, p.display);
          if (err.code !== 'ERR_STORE') throw err;
          throw new IntentGuardError(
            'ERR_STORE_SCHEMA',
            `${p.display}: ${component} migration ${m.version} failed: ${err.message}`,
          );
        }
        version = m.version;
      }
      return version;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {
        broken = true;
      });
    }
  } catch (e) {
    broken = true;
    throw pgError(e, p.display);
  } finally {
    client.release(broken);
  }
}

async function current(client: pg.PoolClient, component: string): Promise<number> {
  const r = await client.query<{ v: number | null }>(
    'SELECT max(version) AS v FROM schema_migrations WHERE component = $1',
    [component],
  );
  return r.rows[0]?.v ?? 0;
}
