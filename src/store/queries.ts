import type { Identity } from '../events/types.js';
import { parseIntent } from '../intent/parse.js';
import type { Finding } from '../policy/types.js';
import type { SessionBundle } from '../replay/bundle.js';
import type { Store } from './db.js';

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
}

/** Sessions, newest first, with counts; live sessions have no end yet. */
export function listSessions(store: Store, options: { limit?: number; since?: number } = {}): SessionRow[] {
  return store.db.prepare(`
    SELECT s.id, s.sub, s.jti, s.purpose, s.transport, s.started_at, s.ended_at, s.calls, s.outcome, s.drift, s.status,
      (SELECT count(*) FROM events e WHERE e.session_id = s.id) AS events,
      (SELECT count(*) FROM events e WHERE e.session_id = s.id AND e.kind = 'request' AND e.tool IS NOT NULL) AS live_calls
    FROM sessions s WHERE s.started_at >= ? ORDER BY s.rowid DESC LIMIT ?`).all(options.since ?? 0, options.limit ?? 50) as SessionRow[];
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
  readonly findings: readonly Finding[];
}

/** A session's events with the decision about each. */
export function sessionTimeline(store: Store, id: string): { session: Record<string, unknown>; entries: TimelineEntry[] } | undefined {
  const session = store.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as Record<string, unknown> | undefined;
  if (!session) return undefined;
  const rows = store.db.prepare(`SELECT e.seq, e.time, e.dir, e.kind, e.method, e.tool, e.call, e.raw, d.action, d.findings_json
    FROM events e LEFT JOIN decisions d ON d.session_id = e.session_id AND d.seq = e.seq WHERE e.session_id = ? ORDER BY e.seq`).all(id) as Record<string, any>[];
  return {
    session,
    entries: rows.map((r) => ({
      seq: r.seq, time: r.time, dir: r.dir, kind: r.kind, method: r.method, tool: r.tool, call: r.call, raw: JSON.parse(r.raw),
      action: r.action ?? null, findings: r.findings_json ? (JSON.parse(r.findings_json) as Finding[]) : [],
    })),
  };
}

/** Recorded sessions as bundles (the replay/export format), with their recorded decisions by seq. */
export function* sessionBundles(store: Store, filter: { session?: string; since?: number } = {}): Generator<SessionBundle & { recorded: Map<number, { action: string; findings: Finding[] }> }> {
  const sessions = store.db.prepare(`SELECT * FROM sessions WHERE (? IS NULL OR id = ?) AND started_at >= ? ORDER BY rowid`).all(filter.session ?? null, filter.session ?? null, filter.since ?? 0) as Record<string, any>[];
  const events = store.db.prepare('SELECT seq, dir, time, raw, synthetic FROM events WHERE session_id = ? ORDER BY seq');
  const decisions = store.db.prepare('SELECT seq, action, findings_json FROM decisions WHERE session_id = ? ORDER BY rowid');
  for (const s of sessions) {
    const evs = (events.all(s.id) as { seq: number; dir: 'c2s' | 's2c'; time: number; raw: string; synthetic: number }[])
      // intentguard's own answers are not part of the recorded traffic: replay produces its own.
      .filter((e) => !e.synthetic)
      .map((e) => ({ dir: e.dir, msg: JSON.parse(e.raw) as unknown, t: e.time - s.started_at }));
    const recorded = new Map<number, { action: string; findings: Finding[] }>();
    for (const d of decisions.all(s.id) as { seq: number; action: string; findings_json: string }[]) recorded.set(d.seq, { action: d.action, findings: JSON.parse(d.findings_json) });
    const identity: Identity | undefined = s.sub ? { sub: s.sub, ...(s.iss && { iss: s.iss }), ...(s.jti && { jti: s.jti }), ...(s.act && { act: { sub: s.act } }) } : undefined;
    yield { id: s.id, intent: parseIntent(JSON.parse(s.intent_json)), events: evs, ...(identity && { identity }), recorded };
  }
}
