import type { Statement } from 'better-sqlite3';
import type { SqlRow } from '../store/rows.js';
import { redactValue } from '../rules/template.js';
import type { Store } from '../store/db.js';
import { readRecorded } from '../store/bundle.js';
import { GENESIS, fieldsOf, link } from '../store/chain.js';

// The console's reads of the store the proxies write. Every list is bounded and keyset-paginated
// (`WHERE rowid < ? ORDER BY rowid DESC LIMIT ?` on the primary key), so page one of 100,000 sessions
// costs what page one of 100 does; per-row counts use the (session_id, seq) indexes.

/** One row of the live sessions view. */
export interface ConsoleSession {
  readonly rowid: number;
  readonly id: string;
  readonly sub: string | null;
  readonly act: string | null;
  readonly jti: string | null;
  readonly purpose: string;
  readonly intentVersion: number;
  readonly transport: string | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly outcome: string | null;
  readonly status: string | null;
  readonly calls: number;
  /** The intent's call budget, when it has one. */
  readonly budget: number | null;
  readonly drift: number | null;
  readonly revoked: boolean;
  /** An analyst's mark on the session. */
  readonly mark: 'benign' | 'attack' | null;
}

/** The largest page a list returns. */
const MAX_PAGE = 200;

interface Prepared {
  page: Statement;
  first: Statement;
  pending: Statement;
  detail: Statement;
  approval: Statement;
  alertsPage: Statement;
  alert: Statement;
  hits: Statement;
}
const prepared = new WeakMap<Store, Prepared>();

const SESSION_COLUMNS = `s.rowid, s.id, s.sub, s.act, s.jti, s.purpose, s.intent_version, s.transport, s.started_at,
  s.ended_at, s.outcome, s.status, s.drift, s.calls, json_extract(s.intent_json, '$.budget.calls') AS budget,
  (SELECT count(*) FROM events e WHERE e.session_id = s.id AND e.kind = 'request' AND e.tool IS NOT NULL) AS live_calls,
  (SELECT json_extract(e.raw, '$.intent.version') FROM events e WHERE e.session_id = s.id AND e.kind = 'control'
    ORDER BY e.seq DESC LIMIT 1) AS latest_version,
  EXISTS (SELECT 1 FROM revocations r WHERE (r.jti = s.jti OR r.sub = s.sub) AND r.expires_at IS NOT 0
    AND NOT EXISTS (SELECT 1 FROM revocations l WHERE l.expires_at = 0 AND l.rowid > r.rowid
      AND l.jti IS r.jti AND l.sub IS r.sub)) AS revoked,
  (SELECT n.value FROM console_notes n WHERE n.kind = 'mark' AND n.target = s.id ORDER BY n.rowid DESC LIMIT 1) AS mark`;

/** The latest mark of each marked session (a cleared mark is 'none'). */
const MARKS = `(SELECT n.target, n.value AS mark FROM console_notes n WHERE n.kind = 'mark'
  AND n.rowid = (SELECT max(n2.rowid) FROM console_notes n2 WHERE n2.kind = 'mark' AND n2.target = n.target))`;
const ACK = (col: string) =>
  `(SELECT n.${col} FROM console_notes n WHERE n.kind = 'ack' AND n.target = a.id ORDER BY n.rowid DESC LIMIT 1)`;

export const APPROVAL_COLUMNS = `a.id, a.session_id, a.sub, a.tool, a.args_digest, a.intent_version, a.reason, a.requested_at,
  a.expires_at, a.status, a.approver, a.scope, a.decided_at, s.act, s.purpose, s.intent_json, e.raw`;
export const APPROVAL_FROM = `FROM approvals a JOIN sessions s ON s.id = a.session_id
  LEFT JOIN decisions d ON d.id = a.decision_id
  LEFT JOIN events e ON e.session_id = d.session_id AND e.seq = d.seq`;

function statements(store: Store): Prepared {
  let p = prepared.get(store);
  if (!p) {
    notes(store); // the console's own table, which these statements read
    const db = store.db;
    p = {
      page: db.prepare(
        `SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.rowid < ? ORDER BY s.rowid DESC LIMIT ?`,
      ),
      first: db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = ?`),
      pending: db.prepare(
        `SELECT ${APPROVAL_COLUMNS} ${APPROVAL_FROM}
        WHERE a.status = 'pending' AND a.expires_at > ? ORDER BY a.rowid DESC LIMIT ?`,
      ),
      detail: db.prepare(`SELECT ${APPROVAL_COLUMNS} ${APPROVAL_FROM} WHERE a.id = ?`),
      approval: db.prepare(
        `SELECT a.id, a.session_id, a.sub, a.status, a.expires_at, s.act FROM approvals a JOIN sessions s ON s.id = a.session_id WHERE a.id = ?`,
      ),
      alertsPage: db.prepare(
        `SELECT a.rowid, a.id, a.session_id, a.time, a.rule, a.severity, a.action, a.outcome, a.json, s.sub, d.seq,
          ${ACK('by')} AS ack_by, ${ACK('at')} AS ack_at
        FROM alerts a JOIN sessions s ON s.id = a.session_id LEFT JOIN decisions d ON d.id = a.decision_id
        WHERE a.rowid < @before AND (@severity IS NULL OR a.severity = @severity) AND (@rule IS NULL OR a.rule = @rule)
          AND (@agent IS NULL OR s.sub = @agent)
          AND (@state IS NULL OR (@state = 'open') = (${ACK('rowid')} IS NULL))
        ORDER BY a.rowid DESC LIMIT @limit`,
      ),
      alert: db.prepare('SELECT id FROM alerts WHERE id = ?').pluck(),
      hits: db.prepare(
        `SELECT a.rule, count(*) AS hits, count(DISTINCT a.session_id) AS sessions,
          count(DISTINCT CASE WHEN m.mark = 'benign' THEN a.session_id END) AS benign,
          count(DISTINCT CASE WHEN m.mark = 'attack' THEN a.session_id END) AS attack
        FROM alerts a LEFT JOIN ${MARKS} m ON m.target = a.session_id
        WHERE a.time >= ? GROUP BY a.rule ORDER BY hits DESC LIMIT 500`,
      ),
    };
    prepared.set(store, p);
  }
  return p;
}

export const sessionOf = (r: SqlRow): ConsoleSession => ({
  rowid: r.rowid,
  id: r.id,
  sub: r.sub,
  act: r.act,
  jti: r.jti,
  purpose: r.purpose,
  intentVersion: Math.max(r.intent_version, r.latest_version ?? 0),
  transport: r.transport,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  outcome: r.outcome,
  status: r.status,
  calls: r.calls ?? r.live_calls,
  budget: typeof r.budget === 'number' ? r.budget : null,
  drift: r.drift,
  revoked: r.revoked === 1 || r.revoked === true,
  mark: r.mark === 'benign' || r.mark === 'attack' ? r.mark : null,
});

/** Clamp a requested page size to 1..MAX_PAGE. */
export const pageSize = (n: number | undefined, fallback = 50): number =>
  Math.max(1, Math.min(MAX_PAGE, Number.isInteger(n) ? n! : fallback));

/**
 * One page of sessions, newest first. `before` is the `rowid` of the last row of the previous page
 * (the `next` cursor this returns); absent for the first page.
 */
export function sessionsPage(
  store: Store,
  o: { before?: number; limit?: number } = {},
): { sessions: ConsoleSession[]; next: number | null } {
  const limit = pageSize(o.limit);
  const rows = statements(store).page.all(o.before ?? Number.MAX_SAFE_INTEGER, limit) as SqlRow[];
  const sessions = rows.map(sessionOf);
  return { sessions, next: sessions.length === limit ? sessions[sessions.length - 1]!.rowid : null };
}

/** Ids of the sessions started since `since`, newest first, at most `limit`. */
export function sessionsSince(store: Store, since: number, limit: number): string[] {
  return store.db
    .prepare('SELECT id FROM sessions WHERE started_at >= ? ORDER BY rowid DESC LIMIT ?')
    .pluck()
    .all(since, limit) as string[];
}

/** One session's row, as the list shows it. */
export function sessionRow(store: Store, id: string): ConsoleSession | undefined {
  const r = statements(store).first.get(id) as SqlRow | undefined;
  return r && sessionOf(r);
}

/** A held call (waiting for a decision, or decided), with what the reviewer needs beside it. */
export interface ConsoleApproval {
  readonly id: string;
  readonly session: string;
  readonly sub: string | null;
  readonly act: string | null;
  readonly tool: string;
  readonly argsDigest: string;
  /** The call's arguments, redacted as alerts are (secrets and long values masked). */
  readonly args: unknown;
  /** What the intent allows for this tool: its entry (with argument checks), `'*'`, or null (not approved). */
  readonly allowed: unknown;
  readonly purpose: string;
  readonly intentVersion: number;
  readonly reason: string;
  readonly requestedAt: number;
  readonly expiresAt: number;
  /** pending, approved, denied, expired, rejected. */
  readonly status: string;
  readonly approver: string | null;
  /** once, session or intent, when approved. */
  readonly scope: string | null;
  readonly decidedAt: number | null;
}

function allowedFor(intentJson: string, tool: string): unknown {
  try {
    const intent = JSON.parse(intentJson) as { tools?: unknown };
    if (intent.tools === '*') return '*';
    if (!Array.isArray(intent.tools)) return null;
    return intent.tools.find((t) => t === tool || (t && (t as { name?: unknown }).name === tool)) ?? null;
  } catch {
    return null;
  }
}

export const approvalOf = (r: SqlRow): ConsoleApproval => {
  const msg = r.raw ? (readRecorded(r.raw, `the held call of approval ${r.id}`) as SqlRow) : undefined;
  // The store writes `pending`, then the decision a channel reported (`cli-approved` before the
  // proxy has taken it up): both read as what the reviewer decided.
  const status = String(r.status).replace(/^cli-/, '');
  return {
    id: r.id,
    session: r.session_id,
    sub: r.sub,
    act: r.act,
    tool: r.tool,
    argsDigest: r.args_digest,
    args: redactValue(msg?.params?.arguments ?? {}, 'call.args', []),
    allowed: allowedFor(r.intent_json, r.tool),
    purpose: r.purpose,
    intentVersion: r.intent_version,
    reason: r.reason ?? '',
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    status,
    approver: r.approver ?? null,
    scope: r.scope ?? null,
    decidedAt: r.decided_at ?? null,
  };
};

/** Pending approvals (not yet decided, not expired), newest first. */
export function pendingApprovals(store: Store, now: number, limit?: number): ConsoleApproval[] {
  return (statements(store).pending.all(now, pageSize(limit)) as SqlRow[]).map(approvalOf);
}

/** One approval of a held call, whatever its state (its own page: a webhook or elicitation links to it). */
export function approvalDetail(store: Store, id: string): ConsoleApproval | undefined {
  const r = statements(store).detail.get(id) as SqlRow | undefined;
  return r && approvalOf(r);
}

/** The parts of an approval deciding it needs: whose call it is, and whether it is still open. */
export function approvalRow(store: Store, id: string): ApprovalRow | undefined {
  const r = statements(store).approval.get(id) as SqlRow | undefined;
  return r && approvalRowOf(r);
}

/** The parts of an approval deciding it needs. */
export interface ApprovalRow {
  readonly id: string;
  readonly session: string;
  readonly sub: string | null;
  readonly act: string | null;
  readonly status: string;
  readonly expiresAt: number;
}

/** An approval row (`id, session_id, sub, status, expires_at, act`) as deciding reads it. */
export const approvalRowOf = (r: SqlRow): ApprovalRow => ({
  id: r.id,
  session: r.session_id,
  sub: r.sub,
  act: r.act,
  status: r.status,
  expiresAt: Number(r.expires_at),
});

/** One alert of the feed (its OCSF finding as recorded: already redacted). */
export interface ConsoleAlert {
  readonly rowid: number;
  readonly id: string;
  readonly session: string;
  readonly time: number;
  readonly rule: string;
  readonly severity: string;
  readonly action: string;
  readonly outcome: string;
  readonly sub: string | null;
  readonly reason: string;
  /** The seq of the event it was raised on (the session page's #ev-SEQ), when known. */
  readonly seq: number | null;
  /** Who acknowledged it, and when. */
  readonly ack: { readonly by: string; readonly at: number } | null;
}

/** Alert filters: exact severity, rule and agent; `state` open (not acknowledged) or acknowledged. */
export interface AlertFilter {
  readonly severity?: string;
  readonly rule?: string;
  readonly agent?: string;
  readonly state?: 'open' | 'acknowledged';
}

/** A page of alerts, newest first, filtered by severity, rule and agent (exact matches). */
export function alertsPage(
  store: Store,
  f: AlertFilter & { before?: number; limit?: number },
): { alerts: ConsoleAlert[]; next: number | null } {
  const limit = pageSize(f.limit);
  const rows = statements(store).alertsPage.all({
    before: f.before ?? Number.MAX_SAFE_INTEGER,
    severity: f.severity || null,
    rule: f.rule || null,
    agent: f.agent || null,
    state: f.state ?? null,
    limit,
  }) as SqlRow[];
  const alerts = rows.map(alertOf);
  return { alerts, next: alerts.length === limit ? alerts[alerts.length - 1]!.rowid : null };
}

/** One alert row (with its session's sub, its decision's seq and its acknowledgement) as the feed shows it. */
export function alertOf(r: SqlRow): ConsoleAlert {
  let reason: string;
  try {
    // The recorded alert (its `reason`, rendered and redacted when it was raised); OCSF-shaped rows
    // (`message`, `finding_info.desc`) read too.
    const j = JSON.parse(r.json) as {
      reason?: unknown;
      message?: unknown;
      finding_info?: { desc?: unknown };
    };
    reason = String(j.reason ?? j.message ?? j.finding_info?.desc ?? '');
  } catch {
    reason = '(unreadable alert)';
  }
  return {
    rowid: r.rowid,
    id: r.id,
    session: r.session_id,
    time: r.time,
    rule: r.rule,
    severity: r.severity,
    action: r.action,
    outcome: r.outcome,
    sub: r.sub,
    reason,
    seq: r.seq ?? null,
    ack: r.ack_by ? { by: r.ack_by, at: r.ack_at } : null,
  };
}

/** Alerts per time bucket over [since, until): one count per bucket, oldest first (empty buckets 0). */
export function alertsOverTime(store: Store, since: number, until: number, buckets: number): number[] {
  const width = bucketWidth(since, until, buckets);
  const rows = store.db
    .prepare(
      'SELECT (time - @since) / @width AS b, count(*) AS n FROM alerts WHERE time >= @since AND time < @until GROUP BY b',
    )
    .all({ since, until, width }) as { b: number; n: number }[];
  return bucketCounts(rows, buckets);
}

/** The width (ms) of each of `buckets` buckets over [since, until). */
export const bucketWidth = (since: number, until: number, buckets: number): number =>
  Math.max(1, Math.ceil((until - since) / buckets));

/** Per-bucket counts (`b`: bucket index, `n`: count) into one count per bucket, empty buckets 0. */
export function bucketCounts(rows: readonly { b: number; n: number }[], buckets: number): number[] {
  const counts = new Array<number>(buckets).fill(0);
  for (const r of rows) {
    const i = Math.floor(Number(r.b));
    if (i >= 0 && i < buckets) counts[i]! += Number(r.n);
  }
  return counts;
}

/** The audit chain's anchors (prune points, key hand-overs), newest first. */
export function auditAnchors(
  store: Store,
  limit = 50,
): { rowid: number; kind: string; at: number; detail: string }[] {
  return store.db
    .prepare('SELECT rowid, kind, at, detail FROM audit_anchors ORDER BY rowid DESC LIMIT ?')
    .all(pageSize(limit)) as { rowid: number; kind: string; at: number; detail: string }[];
}

/** Is there an alert with this id? */
export const alertExists = (store: Store, id: string): boolean =>
  statements(store).alert.get(id) !== undefined;

/** One rule's hits over a period: alerts, the sessions they fell in, and how analysts marked those. */
export interface RuleHits {
  readonly rule: string;
  readonly hits: number;
  readonly sessions: number;
  readonly benign: number;
  readonly attack: number;
}

/** Alerts per rule since `since` (ms since the epoch), most hit first. */
export function ruleHits(store: Store, since: number): RuleHits[] {
  return statements(store).hits.all(since) as RuleHits[];
}

// The console's own notes: alert acknowledgements and analysts' benign/attack marks on sessions.
// Append-only, in a table of the console's own (created on first use, beside the recorded tables it
// never writes), each row chained to the previous one with the store's audit key (HMAC, like every
// recorded row), so `verifyNotes` shows a note edited or dropped after the fact. The latest note for
// a target wins (a mark can be changed or cleared; an acknowledgement stays).

/** A note kind and the values it takes. */
export const NOTE_VALUES = { ack: ['acknowledged'], mark: ['benign', 'attack', 'none'] } as const;
export type NoteKind = keyof typeof NOTE_VALUES;
const NOTE_FIELDS = ['kind', 'target', 'value', 'by', 'at', 'epoch'] as const;

/** A note's hash, chained to `prev`. */
export const noteHash = (key: Buffer, prev: string, row: Record<string, unknown>): string =>
  link(key, prev, fieldsOf(row, NOTE_FIELDS));

interface NoteStatements {
  head: Statement;
  insert: Statement;
  latest: Statement;
  all: Statement;
}
const noteStatements = new WeakMap<Store, NoteStatements>();

function notes(store: Store): NoteStatements {
  let n = noteStatements.get(store);
  if (!n) {
    store.db.exec(`CREATE TABLE IF NOT EXISTS console_notes (
      rowid INTEGER PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, value TEXT NOT NULL,
      by TEXT NOT NULL, at INTEGER NOT NULL, epoch INTEGER NOT NULL, hash TEXT NOT NULL, prev_hash TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS console_notes_target ON console_notes(kind, target, rowid)`);
    n = {
      head: store.db.prepare('SELECT hash FROM console_notes ORDER BY rowid DESC LIMIT 1').pluck(),
      insert: store.db.prepare(
        `INSERT INTO console_notes (kind, target, value, by, at, epoch, hash, prev_hash)
        VALUES (@kind, @target, @value, @by, @at, @epoch, @hash, @prev_hash)`,
      ),
      latest: store.db.prepare(
        'SELECT value, by, at FROM console_notes WHERE kind = ? AND target = ? ORDER BY rowid DESC LIMIT 1',
      ),
      all: store.db.prepare('SELECT * FROM console_notes ORDER BY rowid'),
    };
    noteStatements.set(store, n);
  }
  return n;
}

/** A note as the pages show it: who set what, when. */
export interface ConsoleNote {
  readonly value: string;
  readonly by: string;
  readonly at: number;
}

/** Append a note (chained); the caller has checked the target exists and the value is one of its kind's. */
export function addNote(
  store: Store,
  kind: NoteKind,
  target: string,
  value: string,
  by: string,
  at: number,
): ConsoleNote {
  const n = notes(store);
  store.db.transaction(() => {
    const prev = (n.head.get() as string | undefined) ?? GENESIS;
    const row = { kind, target, value, by, at, epoch: store.epoch };
    n.insert.run({ ...row, prev_hash: prev, hash: noteHash(store.key, prev, row) });
  })();
  return { value, by, at };
}

/** The latest note of a kind on a target (an alert id, a session id), if any. */
export function noteOf(store: Store, kind: NoteKind, target: string): ConsoleNote | undefined {
  return notes(store).latest.get(kind, target) as ConsoleNote | undefined;
}

/** Verify the notes chain: how many notes, and the first row that does not link (edited, dropped, reordered). */
export function verifyNotes(store: Store): NotesReport {
  return verifyNoteRows(store.keys, notes(store).all.iterate() as Iterable<SqlRow>);
}

/** What verifying the notes chain found. */
export interface NotesReport {
  readonly notes: number;
  readonly broken: { rowid: number; why: string } | null;
}

/** Walk the notes (in rowid order) against their chain: the first row that does not link, if any. */
export function verifyNoteRows(keys: ReadonlyMap<number, Buffer>, rows: Iterable<SqlRow>): NotesReport {
  let prev = GENESIS;
  let count = 0;
  for (const r of rows) {
    count++;
    const key = keys.get(Number(r.epoch));
    if (!key) return { notes: count, broken: { rowid: r.rowid, why: `no audit key of epoch ${r.epoch}` } };
    if (r.prev_hash !== prev)
      return { notes: count, broken: { rowid: r.rowid, why: 'does not follow the previous note' } };
    if (noteHash(key, prev, { ...r, epoch: Number(r.epoch) }) !== r.hash)
      return { notes: count, broken: { rowid: r.rowid, why: 'its content does not match its hash' } };
    prev = r.hash;
  }
  return { notes: count, broken: null };
}
