import type { ApprovalLedger } from '../approvals/approvals.js';
import { verifyAudit } from '../store/audit.js';
import { GENESIS } from '../store/chain.js';
import {
  checkedGrantRequests,
  grantRequestHash,
  GRANT_REQUESTS_SELECT,
  type GrantLedger,
} from '../store/grant-requests.js';
import { checkEpoch } from '../store/pg/keys.js';
import { migratePg } from '../store/pg/migrations.js';
import { pgSnapshot, type Snapshot, type SnapshotFilter } from '../store/pg/snapshot.js';
import type { PgStore } from '../store/pg/store.js';
import type { SqlRow } from '../store/rows.js';
import { exportLinesOf, type ConsoleData } from './data.js';
import {
  alertOf,
  APPROVAL_COLUMNS,
  APPROVAL_FROM,
  approvalOf,
  approvalRowOf,
  bucketCounts,
  bucketWidth,
  noteHash,
  pageSize,
  sessionOf,
  verifyNoteRows,
} from './queries.js';
import { diffCandidateRules, MAX_SESSIONS } from './rules-diff.js';
import { consoleTimeline } from './timeline.js';

/** What the console writes on a fleet's store through the fleet's own code (decisions, revocations, approvals). */
export interface FleetWrites {
  /** Decide a held call exactly once across the fleet (the instance holding it releases it). */
  readonly decide: ConsoleData['decide'];
  /** A chained revocation in the shared table (every instance is woken). */
  readonly revoke: ConsoleData['revoke'];
  /** The shared approvals chain (grant requests are recorded in it). */
  readonly approvals: ApprovalLedger;
}

/** The console's own PostgreSQL table (component `console`): acknowledgements and marks, chained. */
const CONSOLE_MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE console_notes (
        rowid BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, value TEXT NOT NULL,
        "by" TEXT NOT NULL, at BIGINT NOT NULL, epoch INTEGER NOT NULL, hash TEXT NOT NULL, prev_hash TEXT NOT NULL);
      CREATE INDEX console_notes_target ON console_notes(kind, target, rowid);
    `,
  },
];

/** Taken (per transaction) by whoever appends to a console chain on the shared store. */
const NOTES_LOCK = 0x1a7e_c0de;
const GRANTS_LOCK = 0x1a7e_c0df;

// The SQLite queries of src/console/queries.ts in PostgreSQL's dialect: the same columns, the same
// keyset pagination on rowid (the primary key), per-row counts on the (session_id, seq) unique index.
const SESSION_COLUMNS = `s.rowid, s.id, s.sub, s.act, s.jti, s.purpose, s.intent_version, s.transport, s.started_at,
  s.ended_at, s.outcome, s.status, s.drift, s.calls, (s.intent_json::jsonb #>> '{budget,calls}')::float8 AS budget,
  (SELECT count(*) FROM events e WHERE e.session_id = s.id AND e.kind = 'request' AND e.tool IS NOT NULL) AS live_calls,
  (SELECT (e.raw::jsonb #>> '{intent,version}')::float8 FROM events e WHERE e.session_id = s.id AND e.kind = 'control'
    ORDER BY e.seq DESC LIMIT 1) AS latest_version,
  EXISTS (SELECT 1 FROM revocations r WHERE (r.jti = s.jti OR r.sub = s.sub) AND r.expires_at IS DISTINCT FROM 0
    AND NOT EXISTS (SELECT 1 FROM revocations l WHERE l.expires_at = 0 AND l.rowid > r.rowid
      AND l.jti IS NOT DISTINCT FROM r.jti AND l.sub IS NOT DISTINCT FROM r.sub)) AS revoked,
  (SELECT n.value FROM console_notes n WHERE n.kind = 'mark' AND n.target = s.id ORDER BY n.rowid DESC LIMIT 1) AS mark`;

const ALERTS_PAGE = `SELECT a.rowid, a.id, a.session_id, a.time, a.rule, a.severity, a.action, a.outcome, a.json, s.sub,
    d.seq, ack."by" AS ack_by, ack.at AS ack_at
  FROM alerts a JOIN sessions s ON s.id = a.session_id LEFT JOIN decisions d ON d.id = a.decision_id
  LEFT JOIN LATERAL (SELECT n."by", n.at, n.rowid FROM console_notes n WHERE n.kind = 'ack' AND n.target = a.id
    ORDER BY n.rowid DESC LIMIT 1) ack ON TRUE
  WHERE a.rowid < $1 AND ($2::text IS NULL OR a.severity = $2) AND ($3::text IS NULL OR a.rule = $3)
    AND ($4::text IS NULL OR s.sub = $4) AND ($5::text IS NULL OR ($5 = 'open') = (ack.rowid IS NULL))
  ORDER BY a.rowid DESC LIMIT $6`;

const RULE_HITS = `WITH marks AS (SELECT DISTINCT ON (target) target, value AS mark FROM console_notes
    WHERE kind = 'mark' ORDER BY target, rowid DESC)
  SELECT a.rule, count(*) AS hits, count(DISTINCT a.session_id) AS sessions,
    count(DISTINCT CASE WHEN m.mark = 'benign' THEN a.session_id END) AS benign,
    count(DISTINCT CASE WHEN m.mark = 'attack' THEN a.session_id END) AS attack
  FROM alerts a LEFT JOIN marks m ON m.target = a.session_id
  WHERE a.time >= $1 GROUP BY a.rule ORDER BY hits DESC LIMIT 500`;

/** Cheap heads of what the pages show: any commit anywhere in the fleet moves one of them. */
const CHANGE_MARK = `SELECT concat_ws(':',
  (SELECT coalesce(max(rowid), 0) FROM sessions), (SELECT coalesce(max(rowid), 0) FROM events),
  (SELECT count(*) FROM sessions WHERE end_hash IS NULL), (SELECT coalesce(max(rowid), 0) FROM approvals),
  (SELECT count(*) FROM approvals WHERE status = 'pending'), (SELECT coalesce(max(rowid), 0) FROM revocations),
  (SELECT coalesce(max(rowid), 0) FROM alerts), (SELECT coalesce(max(rowid), 0) FROM console_notes)) AS mark`;

/**
 * The console's data on a fleet's PostgreSQL: the sessions, approvals, alerts and audit of every
 * instance writing there. Lists are PostgreSQL queries (bounded, keyset-paginated); a session's
 * timeline, the audit verification, an export and a rules diff run on a private SQLite copy of the
 * rows they need (src/store/pg/snapshot.ts), through the same code as on SQLite. Writes that other
 * instances act on (decisions, revocations, the approvals chain) go through `writes` (the fleet's code).
 */
export async function pgConsoleData(store: PgStore, writes: FleetWrites): Promise<ConsoleData> {
  await migratePg(store.pg, 'console', CONSOLE_MIGRATIONS);
  const q = async (sql: string, params: unknown[] = []) =>
    (await store.pg.pool.query<SqlRow>(sql, params)).rows;
  const onCopy = async <T>(filter: SnapshotFilter | 'all', work: (s: Snapshot) => T | Promise<T>) => {
    const snap = await pgSnapshot(store, filter);
    try {
      return await work(snap);
    } finally {
      snap.close();
    }
  };
  const grants: GrantLedger = {
    async append(r, approval) {
      await store.pg.transaction(async (client) => {
        await checkEpoch(client, store, store.display);
        await client.query('SELECT pg_advisory_xact_lock($1)', [GRANTS_LOCK]);
        const head = await client.query<{ hash: string }>(
          'SELECT hash FROM grant_requests ORDER BY rowid DESC LIMIT 1',
        );
        const prev = head.rows[0]?.hash ?? GENESIS;
        const row = { ...r, epoch: store.epoch };
        await client.query(
          `INSERT INTO grant_requests (id, sub, act, intent_json, why, requested_at, expires_at, epoch, hash, prev_hash)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            r.id,
            r.sub,
            r.act,
            r.intent_json,
            r.why,
            r.requested_at,
            r.expires_at,
            store.epoch,
            grantRequestHash(store.key, prev, row),
            prev,
          ],
        );
      });
      await writes.approvals.append(approval);
    },
    seal: (id, d) => writes.approvals.seal(id, d),
    load: async (limit) => checkedGrantRequests(store, await q(`${GRANT_REQUESTS_SELECT} $1`, [limit])),
  };
  const latestNote = async (kind: string, target: string) => {
    const [n] = await q(
      'SELECT value, "by", at FROM console_notes WHERE kind = $1 AND target = $2 ORDER BY rowid DESC LIMIT 1',
      [kind, target],
    );
    return n && { value: n.value as string, by: n.by as string, at: Number(n.at) };
  };
  return {
    kind: 'postgres',
    async sessionsPage(o) {
      const limit = pageSize(o.limit);
      const rows = await q(
        `SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.rowid < $1 ORDER BY s.rowid DESC LIMIT $2`,
        [o.before ?? Number.MAX_SAFE_INTEGER, limit],
      );
      const sessions = rows.map(sessionOf);
      return { sessions, next: sessions.length === limit ? sessions[sessions.length - 1]!.rowid : null };
    },
    sessionRow: async (id) => {
      const [r] = await q(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = $1`, [id]);
      return r && sessionOf(r);
    },
    timeline: (id) => onCopy({ session: id }, (s) => consoleTimeline(s.store, id)),
    pendingApprovals: async (now, limit) =>
      (
        await q(
          `SELECT ${APPROVAL_COLUMNS} ${APPROVAL_FROM} WHERE a.status = 'pending' AND a.expires_at > $1 ORDER BY a.rowid DESC LIMIT $2`,
          [now, pageSize(limit)],
        )
      ).map(approvalOf),
    approvalDetail: async (id) => {
      const [r] = await q(`SELECT ${APPROVAL_COLUMNS} ${APPROVAL_FROM} WHERE a.id = $1`, [id]);
      return r && approvalOf(r);
    },
    approvalRow: async (id) => {
      const [r] = await q(
        'SELECT a.id, a.session_id, a.sub, a.status, a.expires_at, s.act FROM approvals a JOIN sessions s ON s.id = a.session_id WHERE a.id = $1',
        [id],
      );
      return r && approvalRowOf(r);
    },
    decide: (id, approve, approver, scope) => writes.decide(id, approve, approver, scope),
    revoke: (jti, reason) => writes.revoke(jti, reason),
    async alertsPage(f) {
      const limit = pageSize(f.limit);
      const rows = await q(ALERTS_PAGE, [
        f.before ?? Number.MAX_SAFE_INTEGER,
        f.severity || null,
        f.rule || null,
        f.agent || null,
        f.state ?? null,
        limit,
      ]);
      const alerts = rows.map(alertOf);
      return { alerts, next: alerts.length === limit ? alerts[alerts.length - 1]!.rowid : null };
    },
    alertExists: async (id) => (await q('SELECT 1 FROM alerts WHERE id = $1', [id])).length > 0,
    alertsOverTime: async (since, until, buckets) => {
      const rows = await q(
        'SELECT (time - $1) / $2 AS b, count(*) AS n FROM alerts WHERE time >= $1 AND time < $3 GROUP BY 1',
        [since, bucketWidth(since, until, buckets), until],
      );
      return bucketCounts(rows as { b: number; n: number }[], buckets);
    },
    ruleHits: async (since) => (await q(RULE_HITS, [since])) as never,
    auditAnchors: async (limit = 50) =>
      (await q('SELECT rowid, kind, at, detail FROM audit_anchors ORDER BY rowid DESC LIMIT $1', [
        pageSize(limit),
      ])) as never,
    async addNote(kind, target, value, by, at) {
      await store.pg.transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [NOTES_LOCK]);
        const head = await client.query<{ hash: string }>(
          'SELECT hash FROM console_notes ORDER BY rowid DESC LIMIT 1',
        );
        const prev = head.rows[0]?.hash ?? GENESIS;
        const row = { kind, target, value, by, at, epoch: store.epoch };
        await client.query(
          'INSERT INTO console_notes (kind, target, value, "by", at, epoch, hash, prev_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [kind, target, value, by, at, store.epoch, noteHash(store.key, prev, row), prev],
        );
      });
      return { value, by, at };
    },
    noteOf: (kind, target) => latestNote(kind, target),
    verifyNotes: async () =>
      verifyNoteRows(store.keys, await q('SELECT * FROM console_notes ORDER BY rowid')),
    // No head anchor on a shared store (README): its chains and seals are checked on a copy.
    verifyAudit: () => onCopy('all', (s) => verifyAudit(s.store, { anchor: false })),
    exportLines: (session) =>
      onCopy(session === undefined ? 'all' : { session }, (s) => exportLinesOf(s.store, session)),
    // The newest sessions of the period (as many as a diff replays, and one more to tell it was capped).
    rulesDiff: (o) =>
      onCopy({ since: o.since, limit: MAX_SESSIONS + 1 }, (s) => diffCandidateRules(s.store, o)),
    changeMark: async () => String((await q(CHANGE_MARK))[0]!.mark),
    grants,
    close: async () => undefined,
  };
}
