import type { SessionEvent } from '../model/events.js';
import type { SessionState } from '../model/session.js';
import type { Alert, Decision } from '../model/decision.js';

/**
 * What the recorder hands its writer: one flat array of values per batch, each record a tag followed
 * by a fixed number of values (see {@link WIDTH}), already serialized and ready to chain and insert.
 * One flat array of primitives is cheap to build on the per-message path and cheap to post to a worker.
 */
export type Rows = unknown[];

/**
 * A row as better-sqlite3 returns it, read back by column name. The schema (migrations.ts) fixes the
 * columns; values are checked where they matter (the audit chain re-hashes them).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- columns are read by name from our own schema
export type SqlRow = Record<string, any>;
/** A row in raw mode (`statement.raw()`): its columns in order. */
export type SqlTuple = SqlRow[string][];

export const OPEN = 0;
export const EVENT = 1;
export const DECISION = 2;
export const ALERT = 3;
export const END = 4;

/** Values after the tag, per tag. */
export const WIDTH = [1, 13, 1, 9, 1] as const;

/** Event values, after the tag: the 12 hashed columns in `HASHED.events` order, then 1 when it is a tool call. */
export const EVENT_HASHED = 12;

export interface SessionRow {
  id: string;
  key: string;
  sub: string | null;
  iss: string | null;
  act: string | null;
  jti: string | null;
  intent_json: string;
  intent_version: number;
  purpose: string;
  transport: string | null;
  transport_session_id: string | null;
  started_at: number;
}

export interface DecisionRow {
  id: string;
  session_id: string;
  seq: number;
  time: number;
  action: string;
  enforced: 0 | 1;
  call: number | null;
  tool: string | null;
  sub: string | null;
  intent_version: number;
  findings_json: string;
  approver: string | null;
  /** Not a column: this decision stopped a tool call (counts toward the session's drift). */
  flagged: 0 | 1;
}

export interface EndRow {
  id: string;
  ended_at: number;
  calls: number;
  status: string;
}

export function pushSession(out: Rows, s: SessionState): void {
  const row: SessionRow = {
    id: s.id,
    key: s.key,
    sub: s.identity?.sub ?? null,
    iss: s.identity?.iss ?? null,
    act: s.identity?.act?.sub ?? null,
    jti: s.identity?.jti ?? null,
    intent_json: JSON.stringify(s.intent),
    intent_version: s.intent.version,
    purpose: s.intent.purpose,
    transport: s.transport ?? null,
    transport_session_id: s.transportSessionId ?? null,
    started_at: s.startedAt,
  };
  out.push(OPEN, row);
}

export function pushEvent(out: Rows, e: SessionEvent): void {
  out.push(
    EVENT,
    e.session,
    e.seq,
    e.time,
    e.dir,
    e.kind,
    e.method ?? null,
    e.tool ?? null,
    e.call ?? null,
    e.id === undefined ? null : typeof e.id === 'number' ? String(e.id) : JSON.stringify(e.id),
    e.bytes,
    e.synthetic ? 1 : 0,
    e.text ?? JSON.stringify(e.raw) ?? 'null',
    e.kind === 'request' && e.tool !== undefined ? 1 : 0,
  );
}

/** A decision's row; a plain `allow` has none (an event with no decision row was allowed). */
export function pushDecision(out: Rows, d: Decision): void {
  if (d.action === 'allow' && d.findings.length === 0) return;
  const row: DecisionRow = {
    id: d.id,
    session_id: d.session,
    seq: d.seq,
    time: d.time,
    action: d.action,
    enforced: d.enforced ? 1 : 0,
    call: d.call ?? null,
    tool: d.tool ?? null,
    sub: d.identity?.sub ?? null,
    intent_version: d.intentVersion,
    findings_json: JSON.stringify(d.findings),
    approver: null,
    flagged: d.call !== undefined && d.kind === 'request' && d.action !== 'allow' ? 1 : 0,
  };
  out.push(DECISION, row);
}

export function pushAlert(out: Rows, a: Alert): void {
  out.push(
    ALERT,
    a.id,
    a.session,
    a.decision,
    a.time,
    a.rule,
    a.severity,
    a.action,
    a.outcome,
    JSON.stringify(a),
  );
}

export function pushEnd(out: Rows, s: SessionState): void {
  const row: EndRow = {
    id: s.id,
    ended_at: s.lastTime,
    calls: s.calls,
    status: s.endReason ? `${s.status} (${s.endReason})` : s.status,
  };
  out.push(END, row);
}

/** Number of records in a batch. */
export function countRecords(rows: Rows): number {
  let n = 0;
  for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4]) n++;
  return n;
}
