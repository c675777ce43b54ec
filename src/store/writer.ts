import type Database from 'better-sqlite3';
import { ACTION_RANK, type Action } from '../policy/types.js';
import { GENESIS, HASHED, fieldsOf, link } from './chain.js';
import { ALERT, DECISION, END, EVENT, EVENT_HASHED, OPEN, WIDTH, type DecisionRow, type EndRow, type Rows, type SessionRow } from './rows.js';

/** What one committed batch wrote. */
export interface Tally {
  events: number;
  decisions: number;
  alerts: number;
  /** Highest committed event seq per session, as `[session, seq]` pairs (plain, to cross threads). */
  lastSeq: [string, number][];
}

export interface Writer {
  /** Chain and insert batches, in order, in one transaction; on failure nothing is written and the chains are as before. */
  commit(batches: readonly Rows[]): Tally;
}

interface Chains {
  event: string;
  decision: string;
  events: number;
  strongest: Action;
  calls: number;
  flagged: number;
}

/**
 * The write side of recording: each event and decision HMAC-chained to the previous one of its session,
 * sessions chained to each other and sealed when they end, all in batched transactions. Runs where the
 * recorder puts it: on a worker thread (default for a database file) or inline.
 */
export function createWriter(db: Database.Database, key: Buffer): Writer {
  const chains = new Map<string, Chains>();
  const lastSession = db.prepare('SELECT hash FROM sessions ORDER BY rowid DESC LIMIT 1').get() as { hash: string } | undefined;
  const lastAnchor = db.prepare('SELECT session_prev_hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1').get() as { session_prev_hash: string } | undefined;
  let sessionChain = lastSession?.hash ?? lastAnchor?.session_prev_hash ?? GENESIS;

  const insSession = db.prepare(`INSERT INTO sessions (id, key, sub, iss, act, jti, intent_json, intent_version, purpose, transport, transport_session_id, started_at, status, hash, prev_hash)
    VALUES (@id, @key, @sub, @iss, @act, @jti, @intent_json, @intent_version, @purpose, @transport, @transport_session_id, @started_at, 'open', @hash, @prev_hash)`);
  const endSession = db.prepare(`UPDATE sessions SET ended_at = @ended_at, outcome = @outcome, calls = @calls, drift = @drift, status = @status,
    events = @events, last_event_hash = @last_event_hash, last_decision_hash = @last_decision_hash, end_hash = @end_hash WHERE id = @id`);
  const sessionHash = db.prepare('SELECT hash FROM sessions WHERE id = ?');
  const lastEvent = db.prepare('SELECT hash FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1');
  const lastDecision = db.prepare('SELECT hash FROM decisions WHERE session_id = ? ORDER BY rowid DESC LIMIT 1');
  const countEvents = db.prepare('SELECT count(*) AS n FROM events WHERE session_id = ?');
  // Positional parameters, in HASHED.events order then hash, prev_hash: binding arrays is cheaper than objects.
  const insEvent = db.prepare(`INSERT INTO events (session_id, seq, time, dir, kind, method, tool, call, msg_id, bytes, synthetic, raw, hash, prev_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insDecision = db.prepare(`INSERT INTO decisions (id, session_id, seq, time, action, enforced, call, tool, sub, intent_version, findings_json, approver, hash, prev_hash)
    VALUES (@id, @session_id, @seq, @time, @action, @enforced, @call, @tool, @sub, @intent_version, @findings_json, @approver, @hash, @prev_hash)`);
  const insAlert = db.prepare('INSERT INTO alerts (id, session_id, decision_id, time, rule, severity, action, outcome, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');

  const chainOf = (session: string): Chains => {
    let c = chains.get(session);
    if (!c) {
      // A session opened before this writer started: continue from its stored chain ends.
      const h = (sessionHash.get(session) as { hash: string } | undefined)?.hash ?? GENESIS;
      const le = lastEvent.get(session) as { hash: string } | undefined;
      const ld = lastDecision.get(session) as { hash: string } | undefined;
      const n = (countEvents.get(session) as { n: number }).n;
      c = { event: le?.hash ?? h, decision: ld?.hash ?? h, events: n, strongest: 'allow', calls: 0, flagged: 0 };
      chains.set(session, c);
    }
    return c;
  };

  const eventValues: unknown[] = new Array(EVENT_HASHED + 2).fill(null);

  /** Write the record at `i` (its tag) of a batch. */
  const write = (rows: Rows, i: number, tally: Tally, lastSeq: Map<string, number>): void => {
    switch (rows[i]) {
      case OPEN: {
        const s = rows[i + 1] as SessionRow;
        const hash = link(key, sessionChain, fieldsOf(s as unknown as Record<string, unknown>, HASHED.sessions));
        insSession.run({ ...s, prev_hash: sessionChain, hash });
        sessionChain = hash;
        chains.set(s.id, { event: hash, decision: hash, events: 0, strongest: 'allow', calls: 0, flagged: 0 });
        return;
      }
      case EVENT: {
        const session = rows[i + 1] as string;
        const c = chainOf(session);
        // One bind array, reused: hashed columns, then hash and prev_hash.
        const hash = link(key, c.event, rows, i + 1, i + 1 + EVENT_HASHED);
        for (let k = 0; k < EVENT_HASHED; k++) eventValues[k] = rows[i + 1 + k];
        eventValues[EVENT_HASHED] = hash;
        eventValues[EVENT_HASHED + 1] = c.event;
        insEvent.run(eventValues);
        c.event = hash;
        c.events++;
        if (rows[i + 1 + EVENT_HASHED] === 1) c.calls++;
        tally.events++;
        lastSeq.set(session, rows[i + 2] as number);
        return;
      }
      case DECISION: {
        const { flagged, ...d } = rows[i + 1] as DecisionRow;
        const c = chainOf(d.session_id);
        c.flagged += flagged;
        if (ACTION_RANK[d.action as Action] > ACTION_RANK[c.strongest]) c.strongest = d.action as Action;
        const hash = link(key, c.decision, fieldsOf(d as unknown as Record<string, unknown>, HASHED.decisions));
        insDecision.run({ ...d, hash, prev_hash: c.decision });
        c.decision = hash;
        tally.decisions++;
        return;
      }
      case ALERT:
        insAlert.run(rows.slice(i + 1, i + 1 + WIDTH[ALERT]));
        tally.alerts++;
        return;
      case END: {
        const e = rows[i + 1] as EndRow;
        const c = chainOf(e.id);
        const base = (sessionHash.get(e.id) as { hash: string } | undefined)?.hash ?? GENESIS;
        const values: Record<string, unknown> = {
          id: e.id, ended_at: e.ended_at, outcome: c.strongest, calls: e.calls,
          drift: e.calls === 0 ? 0 : Math.round((c.flagged / e.calls) * 1000) / 1000, status: e.status,
          events: c.events, last_event_hash: c.event, last_decision_hash: c.decision,
        };
        values.end_hash = link(key, base, fieldsOf(values, HASHED.sessionEnd));
        endSession.run(values);
        chains.delete(e.id);
        return;
      }
      default:
        throw new Error(`recording batch is corrupt: unknown record tag ${String(rows[i])} at ${i}`);
    }
  };

  const transaction = db.transaction((batches: readonly Rows[]): Tally => {
    const tally: Tally = { events: 0, decisions: 0, alerts: 0, lastSeq: [] };
    const lastSeq = new Map<string, number>();
    for (const rows of batches) {
      for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4]) write(rows, i, tally, lastSeq);
    }
    tally.lastSeq = [...lastSeq];
    return tally;
  });

  return {
    commit(batches) {
      // Chain heads advance inside the transaction; restore them if it rolls back.
      const saved = new Map([...chains].map(([k, v]) => [k, { ...v }]));
      const savedSession = sessionChain;
      try {
        return transaction(batches);
      } catch (e) {
        chains.clear();
        for (const [k, v] of saved) chains.set(k, v);
        sessionChain = savedSession;
        throw e;
      }
    },
  };
}
