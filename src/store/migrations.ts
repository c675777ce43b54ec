import type Database from 'better-sqlite3';

/**
 * Versioned schema migrations, applied in order inside one transaction each; `PRAGMA user_version`
 * records the version reached. Never edit a shipped migration: add the next one.
 */
const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE sessions (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        key TEXT NOT NULL,
        sub TEXT, iss TEXT, act TEXT, jti TEXT,
        intent_json TEXT NOT NULL,
        intent_version INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        transport TEXT, transport_session_id TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER, outcome TEXT, calls INTEGER, drift REAL, status TEXT,
        events INTEGER, last_event_hash TEXT, last_decision_hash TEXT,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL,
        end_hash TEXT
      );
      CREATE INDEX sessions_started ON sessions(started_at);
      CREATE INDEX sessions_sub ON sessions(sub);
      CREATE TABLE events (
        rowid INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time INTEGER NOT NULL,
        dir TEXT NOT NULL, kind TEXT NOT NULL, method TEXT, tool TEXT, call INTEGER, msg_id TEXT,
        bytes INTEGER NOT NULL, synthetic INTEGER NOT NULL DEFAULT 0,
        raw TEXT NOT NULL,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL,
        UNIQUE (session_id, seq)
      );
      CREATE TABLE decisions (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time INTEGER NOT NULL,
        action TEXT NOT NULL, enforced INTEGER NOT NULL, call INTEGER, tool TEXT,
        sub TEXT, intent_version INTEGER NOT NULL,
        findings_json TEXT NOT NULL,
        approver TEXT,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL
      );
      CREATE INDEX decisions_session ON decisions(session_id, seq);
      CREATE TABLE alerts (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        decision_id TEXT NOT NULL,
        time INTEGER NOT NULL,
        rule TEXT NOT NULL, severity TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX alerts_session ON alerts(session_id);
      CREATE TABLE outbox (
        rowid INTEGER PRIMARY KEY,
        sink TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        UNIQUE (sink, alert_id)
      );
      CREATE TABLE approvals (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        decision_id TEXT,
        sub TEXT, tool TEXT, args_digest TEXT, intent_version INTEGER,
        scope TEXT, status TEXT NOT NULL, approver TEXT, reason TEXT,
        requested_at INTEGER NOT NULL, decided_at INTEGER, expires_at INTEGER
      );
      CREATE TABLE revocations (
        rowid INTEGER PRIMARY KEY,
        jti TEXT, sub TEXT,
        reason TEXT NOT NULL,
        revoked_at INTEGER NOT NULL,
        expires_at INTEGER
      );
      CREATE INDEX revocations_jti ON revocations(jti);
      CREATE INDEX revocations_sub ON revocations(sub);
      CREATE TABLE audit_anchors (
        rowid INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        detail TEXT NOT NULL,
        session_prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL
      );
    `,
  },
  {
    // Chain version 2: every row an auditor reads is chained or sealed (alerts per session, approvals
    // and revocations in insertion order), and a session's seal also covers its decisions, alerts and
    // how it ended (seal_note: sealed after the fact, at the next start, when its process died).
    version: 2,
    sql: `
      ALTER TABLE sessions ADD COLUMN chain_v INTEGER;
      ALTER TABLE sessions ADD COLUMN decisions INTEGER;
      ALTER TABLE sessions ADD COLUMN alerts INTEGER;
      ALTER TABLE sessions ADD COLUMN last_alert_hash TEXT;
      ALTER TABLE sessions ADD COLUMN seal_note TEXT;
      CREATE INDEX sessions_unsealed ON sessions(rowid) WHERE end_hash IS NULL;
      ALTER TABLE alerts ADD COLUMN hash TEXT;
      ALTER TABLE alerts ADD COLUMN prev_hash TEXT;
      ALTER TABLE approvals ADD COLUMN hash TEXT;
      ALTER TABLE approvals ADD COLUMN prev_hash TEXT;
      ALTER TABLE approvals ADD COLUMN decision_hash TEXT;
      ALTER TABLE revocations ADD COLUMN hash TEXT;
      ALTER TABLE revocations ADD COLUMN prev_hash TEXT;
    `,
  },
  {
    // Grant requests waiting for a reviewer (or decided): what was asked, by whom, and why the rule
    // set held it, so a restart of the console shows them again. Chained in insertion order with the
    // audit key of the row's epoch (src/store/grant-requests.ts); the decision is the approvals row's.
    version: 3,
    sql: `
      CREATE TABLE grant_requests (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        sub TEXT NOT NULL, act TEXT,
        intent_json TEXT NOT NULL,
        why TEXT NOT NULL,
        requested_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        hash TEXT NOT NULL, prev_hash TEXT NOT NULL
      );
    `,
  },
];

/** Bring a database to the latest schema version. Returns the version it is at. */
export function migrate(db: Database.Database): number {
  let version = db.pragma('user_version', { simple: true }) as number;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  if (version > latest)
    throw new Error(`database schema version ${version} is newer than this intentguard (${latest})`);
  for (const m of MIGRATIONS) {
    if (m.version <= version) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    version = m.version;
  }
  return version;
}
