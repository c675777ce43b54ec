import type { Identity } from '../model/events.js';
import type { Finding } from '../model/policy.js';
import {
  amendmentOf,
  bundleOfRecorded,
  intentOf,
  readRecorded,
  type RecordedSession,
  type SessionBundle,
} from './bundle.js';
import type { Statement } from 'better-sqlite3';
import type { Store } from './db.js';
import type { SqlRow, SqlTuple } from './rows.js';

export interface SessionRow {
  readonly id: string;
  readonly sub: string | null;
  readonly jti: string | null;
  readonly purpose: string;
  readonly transport: string | null;
  readonly started_at: number;
  readonly ended_at: number | null;
  readonly calls: number | null;
  readonly outcome: string | null;
  readonly drift: number | null;
  readonly status: string | null;
  readonly events: number;
  readonly live_calls: number;
  /** Decisions that were carried out (0 for a session monitored only: its outcome is what would have happened). */
  readonly enforced: number;
}

/** Sessions, newest first, with counts; live sessions have no end yet. */
export function listSessions(store: Store, options: { limit?: number; since?: number } = {}): SessionRow[] {
  return store.db
    .prepare(
      `
    SELECT s.id, s.sub, s.jti, s.purpose, s.transport, s.started_at, s.ended_at, s.calls, s.outcome, s.drift, s.status,
      (SELECT count(*) FROM events e WHERE e.session_id = s.id) AS events,
      (SELECT count(*) FROM events e WHERE e.session_id = s.id AND e.kind = 'request' AND e.tool IS NOT NULL) AS live_calls,
      (SELECT count(*) FROM decisions d WHERE d.session_id = s.id AND d.enforced = 1) AS enforced
    FROM sessions s WHERE s.started_at >= ? ORDER BY s.rowid DESC LIMIT ?`,
    )
    .all(options.since ?? 0, options.limit ?? 50) as SessionRow[];
}

export interface TimelineEntry {
  readonly seq: number;
  readonly time: number;
  readonly dir: string;
  readonly kind: string;
  readonly method: string | null;
  readonly tool: string | null;
  readonly call: number | null;
  readonly raw: unknown;
  readonly action: string | null;
  /** Whether the decision changed what was delivered (false in monitor mode); null without a decision. */
  readonly enforced: boolean | null;
  readonly findings: readonly Finding[];
}

/** A session's events with the decision about each. */
export function sessionTimeline(
  store: Store,
  id: string,
): { session: Record<string, unknown>; entries: TimelineEntry[] } | undefined {
  const session = store.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as
    Record<string, unknown> | undefined;
  if (!session) return undefined;
  const rows = store.db
    .prepare(
      `SELECT e.seq, e.time, e.dir, e.kind, e.method, e.tool, e.call, e.raw, d.action, d.enforced, d.findings_json
    FROM events e LEFT JOIN decisions d ON d.session_id = e.session_id AND d.seq = e.seq WHERE e.session_id = ? ORDER BY e.seq`,
    )
    .all(id) as SqlRow[];
  return {
    session,
    entries: rows.map((r) => ({
      seq: r.seq,
      time: r.time,
      dir: r.dir,
      kind: r.kind,
      method: r.method,
      tool: r.tool,
      call: r.call,
      raw: readRecorded(r.raw, `event ${r.seq} of session ${id}`),
      action: r.action ?? null,
      enforced: r.enforced === undefined || r.enforced === null ? null : r.enforced === 1,
      findings: r.findings_json
        ? (readRecorded(r.findings_json, `the decision on event ${r.seq} of session ${id}`) as Finding[])
        : [],
    })),
  };
}

/** The verified identity a session row was bound to, when it had one. */
const identityOf = (s: SqlRow): Identity | undefined =>
  s.sub
    ? {
        sub: s.sub,
        ...(s.iss && { iss: s.iss }),
        ...(s.jti && { jti: s.jti }),
        ...(s.act && { act: { sub: s.act } }),
      }
    : undefined;

const statements = new WeakMap<
  Store,
  { one: Statement; all: Statement; events: Statement; traffic: Statement }
>();

/** Prepared once per store: replay reads one session at a time, thousands of times. */
function replayStatements(store: Store) {
  let q = statements.get(store);
  if (!q) {
    q = {
      // One session by id uses the id index (`? IS NULL OR id = ?` would scan every session).
      one: store.db.prepare(
        'SELECT id, started_at, intent_json, sub, iss, jti, act FROM sessions WHERE id = ? AND started_at >= ?',
      ),
      all: store.db.prepare(
        'SELECT id, started_at, intent_json, sub, iss, jti, act FROM sessions WHERE started_at >= ? ORDER BY rowid',
      ),
      // Rows as arrays (`raw()`): about half the cost of rows as objects, on replay's hottest read.
      events: store.db
        .prepare(
          `SELECT e.seq, e.dir, e.kind, e.time, e.raw, e.bytes, e.synthetic, e.call, e.tool, d.action, d.findings_json
        FROM events e LEFT JOIN decisions d ON d.session_id = e.session_id AND d.seq = e.seq WHERE e.session_id = ? ORDER BY e.seq`,
        )
        .raw(),
      // The traffic alone (intentguard's own answers left out: replay produces its own).
      traffic: store.db
        .prepare(
          "SELECT dir, time, raw, bytes, seq, synthetic FROM events WHERE session_id = ? AND (synthetic = 0 OR kind = 'control') ORDER BY seq",
        )
        .raw(),
    };
    statements.set(store, q);
  }
  return q;
}

/**
 * One recorded session as the bundle replay feeds (its traffic, without intentguard's own answers),
 * read straight from the rows: the fast path when recorded decisions are not needed.
 */
export function recordedBundle(store: Store, id: string): SessionBundle | undefined {
  const q = replayStatements(store);
  const s = q.one.get(id, 0) as SqlRow | undefined;
  if (!s) return undefined;
  const rows = q.traffic.all(id) as [string, number, string, number, number, number][];
  const events: SessionBundle['events'][number][] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const what = `event ${r[4]} of session ${id}`;
    events[i] =
      r[5] === 1
        ? { dir: r[0] as 'c2s' | 's2c', msg: null, t: r[1] - s.started_at, amend: amendmentOf(r[2], what) }
        : { dir: r[0] as 'c2s' | 's2c', msg: readRecorded(r[2], what), t: r[1] - s.started_at, bytes: r[3] };
  }
  const identity = identityOf(s);
  return { id: s.id, intent: intentOf(s.intent_json), events, ...(identity && { identity }) };
}

/** Recorded sessions, oldest first, each with its events and the decision recorded for each (plain rows). */
export function* recordedSessions(
  store: Store,
  filter: { session?: string; since?: number } = {},
): Generator<RecordedSession> {
  const q = replayStatements(store);
  const sessions = (
    filter.session !== undefined ? q.one.all(filter.session, filter.since ?? 0) : q.all.all(filter.since ?? 0)
  ) as SqlRow[];
  const events = q.events;
  for (const s of sessions) {
    const identity = identityOf(s);
    yield {
      id: s.id,
      startedAt: s.started_at,
      intentJson: s.intent_json,
      ...(identity && { identity }),
      events: (events.all(s.id) as SqlTuple[]).map((e) => ({
        seq: e[0],
        dir: e[1],
        kind: e[2],
        time: e[3],
        raw: e[4],
        bytes: e[5],
        synthetic: e[6] === 1,
        call: e[7],
        tool: e[8],
        action: e[9] ?? 'allow',
        findingsJson: e[10],
      })),
    };
  }
}

/** Recorded sessions as bundles (the replay/export format), with their recorded decisions by seq. */
export function* sessionBundles(
  store: Store,
  filter: { session?: string; since?: number } = {},
): Generator<SessionBundle & { recorded: Map<number, { action: string; findings: Finding[] }> }> {
  for (const r of recordedSessions(store, filter)) {
    const recorded = new Map<number, { action: string; findings: Finding[] }>();
    for (const e of r.events)
      if (e.findingsJson !== null)
        recorded.set(e.seq, {
          action: e.action,
          findings: readRecorded(
            e.findingsJson,
            `the decision on event ${e.seq} of session ${r.id}`,
          ) as Finding[],
        });
    yield { ...bundleOfRecorded(r), recorded };
  }
}
