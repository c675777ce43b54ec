import { ACTION_RANK, type Action } from '../model/policy.js';
import { alive, anchoredTransaction, type Anchor, type AnchorStore } from './anchor.js';
import { CHAIN_V, GENESIS, HASHED, fieldsOf, link } from './chain.js';
import {
  ALERT,
  DECISION,
  END,
  EVENT,
  EVENT_HASHED,
  OPEN,
  WIDTH,
  type DecisionRow,
  type EndRow,
  type Rows,
  type SessionRow,
} from './rows.js';
import { driftOf, sealSession } from './seal.js';

/** What one committed batch wrote. */
export interface Tally {
  events: number;
  decisions: number;
  alerts: number;
  /** Highest committed event seq per session, as `[session, seq]` pairs (plain, to cross threads). */
  lastSeq: [string, number][];
  /** Records refused, not written: a fleet's fence (src/store/pg/writer.ts). */
  fenced?: number;
}

export interface Writer {
  /** Chain and insert batches, in order, in one transaction; on failure nothing is written and the chains are as before. */
  commit(batches: readonly Rows[]): Tally;
  /** This process no longer records (taken off the head anchor's list of writers). */
  close(): void;
}

interface Chains {
  event: string;
  decision: string;
  alert: string;
  events: number;
  decisions: number;
  alerts: number;
  strongest: Action;
  flagged: number;
}

/**
 * The write side of recording: each event, decision and alert HMAC-chained to the previous one of its
 * session, sessions chained to each other and sealed when they end, all in batched transactions; each
 * transaction also rewrites the head anchor beside the key (chain heads and this process's open
 * sessions), so rows deleted from the end are found. Runs where the recorder puts it: on a worker
 * thread (default for a database file) or inline.
 */
export function createWriter(store: AnchorStore): Writer {
  const { db, key } = store;
  const chains = new Map<string, Chains>();

  const lastSession = db.prepare('SELECT hash FROM sessions ORDER BY rowid DESC LIMIT 1').pluck();
  const lastAnchor = db
    .prepare('SELECT session_prev_hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1')
    .pluck();
  const insSession =
    db.prepare(`INSERT INTO sessions (id, key, sub, iss, act, jti, intent_json, intent_version, purpose, transport, transport_session_id, started_at, chain_v, status, hash, prev_hash)
    VALUES (@id, @key, @sub, @iss, @act, @jti, @intent_json, @intent_version, @purpose, @transport, @transport_session_id, @started_at, @chain_v, 'open', @hash, @prev_hash)`);
  const sessionHash = db.prepare('SELECT hash FROM sessions WHERE id = ?').pluck();
  const lastEvent = db
    .prepare('SELECT hash FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1')
    .pluck();
  const lastDecision = db
    .prepare('SELECT hash FROM decisions WHERE session_id = ? ORDER BY rowid DESC LIMIT 1')
    .pluck();
  const lastAlert = db
    .prepare('SELECT hash FROM alerts WHERE session_id = ? ORDER BY rowid DESC LIMIT 1')
    .pluck();
  const countOf = (table: string) => db.prepare(`SELECT count(*) FROM ${table} WHERE session_id = ?`).pluck();
  const countEvents = countOf('events'),
    countDecisions = countOf('decisions'),
    countAlerts = countOf('alerts');
  // Positional parameters, in HASHED.events order then hash, prev_hash: binding arrays is cheaper than objects.
  const insEvent =
    db.prepare(`INSERT INTO events (session_id, seq, time, dir, kind, method, tool, call, msg_id, bytes, synthetic, raw, hash, prev_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insDecision =
    db.prepare(`INSERT INTO decisions (id, session_id, seq, time, action, enforced, call, tool, sub, intent_version, findings_json, approver, hash, prev_hash)
    VALUES (@id, @session_id, @seq, @time, @action, @enforced, @call, @tool, @sub, @intent_version, @findings_json, @approver, @hash, @prev_hash)`);
  const insAlert = db.prepare(
    'INSERT INTO alerts (id, session_id, decision_id, time, rule, severity, action, outcome, json, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );

  const fresh = (hash: string): Chains => ({
    event: hash,
    decision: hash,
    alert: hash,
    events: 0,
    decisions: 0,
    alerts: 0,
    strongest: 'allow',
    flagged: 0,
  });
  const chainOf = (session: string): Chains => {
    let c = chains.get(session);
    if (!c) {
      // A session opened before this writer started: continue from its stored chain ends.
      const h = (sessionHash.get(session) as string | undefined) ?? GENESIS;
      c = {
        ...fresh(h),
        event: (lastEvent.get(session) as string | undefined) ?? h,
        decision: (lastDecision.get(session) as string | undefined) ?? h,
        alert: (lastAlert.get(session) as string | undefined) ?? h,
        events: countEvents.get(session) as number,
        decisions: countDecisions.get(session) as number,
        alerts: countAlerts.get(session) as number,
      };
      chains.set(session, c);
    }
    return c;
  };

  const eventValues: unknown[] = new Array(EVENT_HASHED + 2).fill(null);
  const alertValues: unknown[] = new Array(WIDTH[ALERT] + 2).fill(null);
  /** Sessions this transaction touched, and those it sealed. */
  const touched = new Set<string>();
  const ended = new Set<string>();

  /** Write the record at `i` (its tag) of a batch. */
  const write = (rows: Rows, i: number, tally: Tally, lastSeq: Map<string, number>): void => {
    switch (rows[i]) {
      case OPEN: {
        const s = { ...(rows[i + 1] as SessionRow), chain_v: CHAIN_V };
        // The chain's head as the database has it: another process may have appended since.
        const prev =
          (lastSession.get() as string | undefined) ?? (lastAnchor.get() as string | undefined) ?? GENESIS;
        const hash = link(key, prev, fieldsOf(s as unknown as Record<string, unknown>, HASHED.sessions2));
        insSession.run({ ...s, prev_hash: prev, hash });
        chains.set(s.id, fresh(hash));
        touched.add(s.id);
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
        touched.add(session);
        tally.events++;
        lastSeq.set(session, rows[i + 2] as number);
        return;
      }
      case DECISION: {
        const { flagged, ...d } = rows[i + 1] as DecisionRow;
        const c = chainOf(d.session_id);
        c.flagged += flagged;
        if (ACTION_RANK[d.action as Action] > ACTION_RANK[c.strongest]) c.strongest = d.action as Action;
        const hash = link(
          key,
          c.decision,
          fieldsOf(d as unknown as Record<string, unknown>, HASHED.decisions),
        );
        insDecision.run({ ...d, hash, prev_hash: c.decision });
        c.decision = hash;
        c.decisions++;
        touched.add(d.session_id);
        tally.decisions++;
        return;
      }
      case ALERT: {
        const session = rows[i + 2] as string;
        const c = chainOf(session);
        const hash = link(key, c.alert, rows, i + 1, i + 1 + WIDTH[ALERT]);
        for (let k = 0; k < WIDTH[ALERT]; k++) alertValues[k] = rows[i + 1 + k];
        alertValues[WIDTH[ALERT]] = hash;
        alertValues[WIDTH[ALERT] + 1] = c.alert;
        insAlert.run(alertValues);
        c.alert = hash;
        c.alerts++;
        touched.add(session);
        tally.alerts++;
        return;
      }
      case END: {
        const e = rows[i + 1] as EndRow;
        const c = chainOf(e.id);
        sealSession(db, key, (sessionHash.get(e.id) as string | undefined) ?? GENESIS, {
          id: e.id,
          ended_at: e.ended_at,
          outcome: c.strongest,
          calls: e.calls,
          drift: driftOf(c.flagged, e.calls),
          status: e.status,
          events: c.events,
          last_event_hash: c.event,
          decisions: c.decisions,
          last_decision_hash: c.decision,
          alerts: c.alerts,
          last_alert_hash: c.alert,
          seal_note: null,
        });
        chains.delete(e.id);
        ended.add(e.id);
        return;
      }
      default:
        throw new Error(`recording batch is corrupt: unknown record tag ${String(rows[i])} at ${i}`);
    }
  };

  /** The head anchor after a transaction: this process's open sessions as they now stand. */
  const anchor = (a: Anchor) => {
    for (const id of touched) {
      const c = chains.get(id);
      if (c)
        a.open[id] = {
          pid: process.pid,
          events: c.events,
          event: c.event,
          decisions: c.decisions,
          decision: c.decision,
          alerts: c.alerts,
          alert: c.alert,
        };
    }
    for (const id of ended) delete a.open[id];
    if (!a.writers.includes(process.pid)) a.writers = [...a.writers.filter(alive), process.pid];
  };

  const transaction = (batches: readonly Rows[]): Tally => {
    const tally: Tally = { events: 0, decisions: 0, alerts: 0, lastSeq: [] };
    const lastSeq = new Map<string, number>();
    touched.clear();
    ended.clear();
    for (const rows of batches) {
      for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4])
        write(rows, i, tally, lastSeq);
    }
    tally.lastSeq = [...lastSeq];
    return tally;
  };

  return {
    commit(batches) {
      if (batches.length === 0) return { events: 0, decisions: 0, alerts: 0, lastSeq: [] };
      // Chain heads advance inside the transaction; restore them if it rolls back.
      const saved = new Map([...chains].map(([k, v]) => [k, { ...v }]));
      try {
        return anchoredTransaction(store, () => transaction(batches), anchor);
      } catch (e) {
        chains.clear();
        for (const [k, v] of saved) chains.set(k, v);
        throw e;
      }
    },
    close() {
      if (store.path === ':memory:') return;
      try {
        anchoredTransaction(
          store,
          () => undefined,
          (a) => {
            a.writers = a.writers.filter((p) => p !== process.pid && alive(p));
          },
        );
      } catch {
        // the anchor keeps a dead pid: harmless, it is dropped the next time a writer starts
      }
    },
  };
}
