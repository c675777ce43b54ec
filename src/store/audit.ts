import { GENESIS, HASHED, fieldsOf, link } from './chain.js';
import type { Store } from './db.js';

/** The first problem found, if any. */
export interface AuditProblem {
  readonly table: 'sessions' | 'events' | 'decisions' | 'audit_anchors';
  readonly rowid: number;
  readonly session?: string;
  readonly seq?: number;
  readonly kind: 'altered' | 'inserted-or-deleted' | 'missing';
  readonly detail: string;
}

export interface AuditReport {
  readonly ok: boolean;
  readonly checked: { sessions: number; events: number; decisions: number; anchors: number };
  readonly problem?: AuditProblem;
}

/**
 * Verify the hash chains of a database: sessions in insertion order (from the last prune anchor),
 * and per session its events (gap-free seq) and decisions. Reports the first altered, inserted or
 * deleted row. Needs the audit key next to the database.
 * @example verifyAudit(openStore('intentguard.db', { readonly: true }))
 */
export function verifyAudit(store: Store): AuditReport {
  const { db, key } = store;
  const checked = { sessions: 0, events: 0, decisions: 0, anchors: 0 };
  const fail = (problem: AuditProblem): AuditReport => ({ ok: false, checked, problem });

  let prev = GENESIS;
  let sessionStart = GENESIS;
  for (const a of db.prepare('SELECT * FROM audit_anchors ORDER BY rowid').iterate() as IterableIterator<Record<string, any>>) {
    checked.anchors++;
    if (a.prev_hash !== prev) return fail({ table: 'audit_anchors', rowid: a.rowid, kind: 'inserted-or-deleted', detail: 'anchor does not follow the previous anchor' });
    if (link(key, prev, fieldsOf(a, HASHED.anchors)) !== a.hash) return fail({ table: 'audit_anchors', rowid: a.rowid, kind: 'altered', detail: 'anchor hash does not match its contents' });
    prev = a.hash;
    sessionStart = a.session_prev_hash;
  }

  let sessionPrev = sessionStart;
  const events = db.prepare('SELECT * FROM events WHERE session_id = ? ORDER BY seq');
  const decisions = db.prepare('SELECT * FROM decisions WHERE session_id = ? ORDER BY rowid');
  for (const s of db.prepare('SELECT * FROM sessions ORDER BY rowid').iterate() as IterableIterator<Record<string, any>>) {
    checked.sessions++;
    if (s.prev_hash !== sessionPrev) {
      return fail({ table: 'sessions', rowid: s.rowid, session: s.id, kind: 'inserted-or-deleted', detail: 'session does not follow the previous session in the chain (a session was deleted or inserted before it)' });
    }
    if (link(key, s.prev_hash, fieldsOf(s, HASHED.sessions)) !== s.hash) {
      return fail({ table: 'sessions', rowid: s.rowid, session: s.id, kind: 'altered', detail: 'session row does not match its hash' });
    }
    if (s.end_hash !== null && link(key, s.hash, fieldsOf(s, HASHED.sessionEnd)) !== s.end_hash) {
      return fail({ table: 'sessions', rowid: s.rowid, session: s.id, kind: 'altered', detail: 'session end (outcome, calls, status) does not match its hash' });
    }
    sessionPrev = s.hash;
    let ePrev = s.hash as string;
    let expectSeq = 0;
    for (const e of events.iterate(s.id) as IterableIterator<Record<string, any>>) {
      checked.events++;
      if (e.seq !== expectSeq) {
        return fail({ table: 'events', rowid: e.rowid, session: s.id, seq: expectSeq, kind: 'missing', detail: `event seq ${expectSeq} is missing (deleted); next present is ${e.seq}` });
      }
      if (e.prev_hash !== ePrev) return fail({ table: 'events', rowid: e.rowid, session: s.id, seq: e.seq, kind: 'inserted-or-deleted', detail: 'event does not follow the previous event of its session' });
      if (link(key, ePrev, fieldsOf(e, HASHED.events)) !== e.hash) return fail({ table: 'events', rowid: e.rowid, session: s.id, seq: e.seq, kind: 'altered', detail: 'event row does not match its hash' });
      ePrev = e.hash;
      expectSeq++;
    }
    if (s.end_hash !== null && (s.events !== expectSeq || s.last_event_hash !== ePrev)) {
      return fail({ table: 'events', rowid: s.rowid, session: s.id, seq: expectSeq, kind: 'missing', detail: `the session ended with ${s.events} events; ${expectSeq} are present (events deleted from the end)` });
    }
    let dPrev = s.hash as string;
    for (const d of decisions.iterate(s.id) as IterableIterator<Record<string, any>>) {
      checked.decisions++;
      if (d.prev_hash !== dPrev) return fail({ table: 'decisions', rowid: d.rowid, session: s.id, seq: d.seq, kind: 'inserted-or-deleted', detail: 'decision does not follow the previous decision of its session' });
      if (link(key, dPrev, fieldsOf(d, HASHED.decisions)) !== d.hash) return fail({ table: 'decisions', rowid: d.rowid, session: s.id, seq: d.seq, kind: 'altered', detail: 'decision row does not match its hash' });
      dPrev = d.hash;
    }
    if (s.end_hash !== null && s.last_decision_hash !== dPrev) {
      return fail({ table: 'decisions', rowid: s.rowid, session: s.id, kind: 'missing', detail: 'decisions were deleted from the end of the session' });
    }
  }
  // Rows whose session is gone (a session row deleted with its chain intact elsewhere).
  const orphan = db.prepare('SELECT rowid, session_id, seq FROM events WHERE session_id NOT IN (SELECT id FROM sessions) LIMIT 1').get() as { rowid: number; session_id: string; seq: number } | undefined;
  if (orphan) return fail({ table: 'events', rowid: orphan.rowid, session: orphan.session_id, seq: orphan.seq, kind: 'inserted-or-deleted', detail: 'event of a session that is not in the sessions table' });
  const orphanD = db.prepare('SELECT rowid, session_id, seq FROM decisions WHERE session_id NOT IN (SELECT id FROM sessions) LIMIT 1').get() as { rowid: number; session_id: string; seq: number } | undefined;
  if (orphanD) return fail({ table: 'decisions', rowid: orphanD.rowid, session: orphanD.session_id, seq: orphanD.seq, kind: 'inserted-or-deleted', detail: 'decision of a session that is not in the sessions table' });
  return { ok: true, checked };
}

/**
 * Delete ended sessions that started before `cutoff` (with their events, decisions and alerts) and
 * write a chained anchor so the remaining chain still verifies. Returns how many sessions were removed.
 */
export function pruneSessions(store: Store, cutoff: number, now: number): number {
  const { db, key } = store;
  return db.transaction(() => {
    const old = db.prepare('SELECT rowid, id FROM sessions WHERE started_at < ? AND ended_at IS NOT NULL ORDER BY rowid').all(cutoff) as { rowid: number; id: string }[];
    if (old.length === 0) return 0;
    // Only a prefix of the sessions chain can be cut without breaking it.
    const firstKept = db.prepare('SELECT rowid, prev_hash FROM sessions WHERE NOT (started_at < ? AND ended_at IS NOT NULL) ORDER BY rowid LIMIT 1').get(cutoff) as { rowid: number; prev_hash: string } | undefined;
    const removable = old.filter((s) => firstKept === undefined || s.rowid < firstKept.rowid);
    if (removable.length === 0) return 0;
    const lastRemoved = db.prepare('SELECT hash FROM sessions WHERE rowid = ?').get(removable[removable.length - 1]!.rowid) as { hash: string };
    for (const s of removable) {
      db.prepare('DELETE FROM events WHERE session_id = ?').run(s.id);
      db.prepare('DELETE FROM decisions WHERE session_id = ?').run(s.id);
      db.prepare('DELETE FROM alerts WHERE session_id = ?').run(s.id);
      db.prepare('DELETE FROM sessions WHERE rowid = ?').run(s.rowid);
    }
    const prevAnchor = (db.prepare('SELECT hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1').get() as { hash: string } | undefined)?.hash ?? GENESIS;
    const row: Record<string, unknown> = { kind: 'prune', at: now, detail: JSON.stringify({ cutoff, sessions: removable.length }), session_prev_hash: lastRemoved.hash };
    row.prev_hash = prevAnchor;
    row.hash = link(key, prevAnchor, fieldsOf(row, HASHED.anchors));
    db.prepare('INSERT INTO audit_anchors (kind, at, detail, session_prev_hash, hash, prev_hash) VALUES (@kind, @at, @detail, @session_prev_hash, @hash, @prev_hash)').run(row);
    return removable.length;
  })();
}
