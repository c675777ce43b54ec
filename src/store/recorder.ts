import { Subject, type Observable, type Subscription } from 'rxjs';
import type { SessionEvent } from '../events/types.js';
import type { Monitor } from '../monitor/create.js';
import type { SessionState } from '../monitor/state.js';
import type { Alert, Decision } from '../monitor/types.js';
import { ACTION_RANK, type Action } from '../policy/types.js';
import { GENESIS, HASHED, fieldsOf, link } from './chain.js';
import { storeError, type Store } from './db.js';

type Op =
  | { readonly t: 'open'; readonly s: SessionState }
  | { readonly t: 'event'; readonly e: SessionEvent }
  | { readonly t: 'decision'; readonly d: Decision }
  | { readonly t: 'alert'; readonly a: Alert }
  | { readonly t: 'end'; readonly s: SessionState };

/** What one flush committed: everything before it is durable. */
export interface Commit {
  readonly events: number;
  readonly decisions: number;
  readonly alerts: number;
  /** Highest committed event seq per session in this batch. */
  readonly lastSeq: ReadonlyMap<string, number>;
}

export interface Recorder {
  /** False after a write failed, until a later flush succeeds. */
  readonly healthy: boolean;
  readonly lastError: Error | undefined;
  readonly commits$: Observable<Commit>;
  readonly errors$: Observable<Error>;
  /** Ops queued and not yet committed. */
  readonly pending: number;
  /** Commit everything queued now. Resolves when it is durable; rejects with the store error. */
  flush(): Promise<Commit>;
  /** Flush and stop listening (the store stays open). */
  close(): Promise<void>;
}

export interface RecorderOptions {
  /** Flush synchronously once this many ops are queued (default 2048). */
  readonly maxBatch?: number;
  /** Otherwise flush this long after the first queued op (default 5 ms): one transaction per batch. */
  readonly flushDelayMs?: number;
  /** After a failure, retry every this many ms (default 1000). */
  readonly retryMs?: number;
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
 * Record a monitor's sessions into the store: sessions (identity, intent, transport, start, end,
 * outcome), every event with its raw message, every decision and alert, each event and decision
 * HMAC-chained to the previous one of its session. Writes are queued by the stream subscriptions
 * (cheap, in order) and committed in batched transactions off the per-message path.
 * @example const recorder = createRecorder(openStore('intentguard.db'), monitor)
 */
export function createRecorder(store: Store, monitor: Monitor, options: RecorderOptions = {}): Recorder {
  const { db, key } = store;
  const maxBatch = options.maxBatch ?? 2048;
  const retryMs = options.retryMs ?? 1000;
  const flushDelayMs = options.flushDelayMs ?? 5;
  const queue: Op[] = [];
  const chains = new Map<string, Chains>();
  const commits$ = new Subject<Commit>();
  const errors$ = new Subject<Error>();
  let healthy = true;
  let lastError: Error | undefined;
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  let closed = false;

  const lastSession = db.prepare('SELECT hash FROM sessions ORDER BY rowid DESC LIMIT 1').get() as { hash: string } | undefined;
  const lastAnchor = db.prepare('SELECT session_prev_hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1').get() as { session_prev_hash: string } | undefined;
  let sessionChain = lastSession?.hash ?? lastAnchor?.session_prev_hash ?? GENESIS;

  const insSession = db.prepare(`INSERT INTO sessions (id, key, sub, iss, act, jti, intent_json, intent_version, purpose, transport, transport_session_id, started_at, status, hash, prev_hash)
    VALUES (@id, @key, @sub, @iss, @act, @jti, @intent_json, @intent_version, @purpose, @transport, @transport_session_id, @started_at, 'open', @hash, @prev_hash)`);
  const endSession = db.prepare(`UPDATE sessions SET ended_at = @ended_at, outcome = @outcome, calls = @calls, drift = @drift, status = @status,
    events = @events, last_event_hash = @last_event_hash, last_decision_hash = @last_decision_hash, end_hash = @end_hash WHERE id = @id`);
  const sessionHash = db.prepare('SELECT hash FROM sessions WHERE id = ?');
  // Positional parameters, in HASHED.events order then hash, prev_hash: binding arrays is cheaper than objects.
  const insEvent = db.prepare(`INSERT INTO events (session_id, seq, time, dir, kind, method, tool, call, msg_id, bytes, synthetic, raw, hash, prev_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insDecision = db.prepare(`INSERT INTO decisions (id, session_id, seq, time, action, enforced, call, tool, sub, intent_version, findings_json, approver, hash, prev_hash)
    VALUES (@id, @session_id, @seq, @time, @action, @enforced, @call, @tool, @sub, @intent_version, @findings_json, @approver, @hash, @prev_hash)`);
  const insAlert = db.prepare('INSERT INTO alerts (id, session_id, decision_id, time, rule, severity, action, outcome, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');

  const chainOf = (session: string): Chains => {
    let c = chains.get(session);
    if (!c) {
      // A session opened before this recorder started: continue from its stored chain ends.
      const h = (sessionHash.get(session) as { hash: string } | undefined)?.hash ?? GENESIS;
      const le = db.prepare('SELECT hash FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1').get(session) as { hash: string } | undefined;
      const ld = db.prepare('SELECT hash FROM decisions WHERE session_id = ? ORDER BY rowid DESC LIMIT 1').get(session) as { hash: string } | undefined;
      const n = (db.prepare('SELECT count(*) AS n FROM events WHERE session_id = ?').get(session) as { n: number }).n;
      c = { event: le?.hash ?? h, decision: ld?.hash ?? h, events: n, strongest: 'allow', calls: 0, flagged: 0 };
      chains.set(session, c);
    }
    return c;
  };

  const write = (op: Op, tally: { events: number; decisions: number; alerts: number; lastSeq: Map<string, number> }) => {
    switch (op.t) {
      case 'open': {
        const s = op.s;
        const row: Record<string, unknown> = {
          id: s.id, key: s.key, sub: s.identity?.sub ?? null, iss: s.identity?.iss ?? null, act: s.identity?.act?.sub ?? null, jti: s.identity?.jti ?? null,
          intent_json: JSON.stringify(s.intent), intent_version: s.intent.version, purpose: s.intent.purpose,
          transport: s.transport ?? null, transport_session_id: s.transportSessionId ?? null, started_at: s.startedAt,
        };
        row.prev_hash = sessionChain;
        row.hash = link(key, sessionChain, fieldsOf(row, HASHED.sessions));
        insSession.run(row);
        sessionChain = row.hash as string;
        chains.set(s.id, { event: row.hash as string, decision: row.hash as string, events: 0, strongest: 'allow', calls: 0, flagged: 0 });
        return;
      }
      case 'event': {
        const e = op.e;
        const c = chainOf(e.session);
        const values: unknown[] = [
          e.session, e.seq, e.time, e.dir, e.kind, e.method ?? null, e.tool ?? null, e.call ?? null,
          e.id === undefined ? null : typeof e.id === 'number' ? String(e.id) : JSON.stringify(e.id), e.bytes, e.synthetic ? 1 : 0,
          JSON.stringify(e.raw) ?? 'null',
        ];
        const hash = link(key, c.event, values);
        values.push(hash, c.event);
        insEvent.run(values);
        c.event = hash;
        c.events++;
        if (e.kind === 'request' && e.tool !== undefined) c.calls++;
        tally.events++;
        tally.lastSeq.set(e.session, e.seq);
        return;
      }
      case 'decision': {
        const d = op.d;
        const c = chainOf(d.session);
        if (d.call !== undefined && d.kind === 'request' && d.action !== 'allow') c.flagged++;
        if (ACTION_RANK[d.action] > ACTION_RANK[c.strongest]) c.strongest = d.action;
        // Only decisions that did something are stored: an event with no decision row was allowed.
        if (d.action === 'allow' && d.findings.length === 0) return;
        const row: Record<string, unknown> = {
          id: d.id, session_id: d.session, seq: d.seq, time: d.time, action: d.action, enforced: d.enforced ? 1 : 0, call: d.call ?? null,
          tool: d.tool ?? null, sub: d.identity?.sub ?? null, intent_version: d.intentVersion, findings_json: JSON.stringify(d.findings), approver: null,
        };
        row.prev_hash = c.decision;
        row.hash = link(key, c.decision, fieldsOf(row, HASHED.decisions));
        insDecision.run(row);
        c.decision = row.hash as string;
        tally.decisions++;
        return;
      }
      case 'alert': {
        const a = op.a;
        insAlert.run(a.id, a.session, a.decision, a.time, a.rule, a.severity, a.action, a.outcome, JSON.stringify(a));
        tally.alerts++;
        return;
      }
      case 'end': {
        const s = op.s;
        const c = chainOf(s.id);
        const base = (sessionHash.get(s.id) as { hash: string } | undefined)?.hash ?? GENESIS;
        const row: Record<string, unknown> = {
          id: s.id, ended_at: s.lastTime, outcome: c.strongest, calls: s.calls,
          drift: s.calls === 0 ? 0 : Math.round((c.flagged / s.calls) * 1000) / 1000, status: s.endReason ? `${s.status} (${s.endReason})` : s.status,
          events: c.events, last_event_hash: c.event, last_decision_hash: c.decision,
        };
        row.end_hash = link(key, base, fieldsOf(row, HASHED.sessionEnd));
        endSession.run(row);
        chains.delete(s.id);
        return;
      }
    }
  };

  const commitBatch = db.transaction((ops: Op[]) => {
    const tally = { events: 0, decisions: 0, alerts: 0, lastSeq: new Map<string, number>() };
    for (const op of ops) write(op, tally);
    return tally;
  });

  const flushNow = (): Commit => {
    scheduled = undefined;
    if (queue.length === 0) return { events: 0, decisions: 0, alerts: 0, lastSeq: new Map() };
    const batch = queue.splice(0, queue.length);
    // Chain heads advance inside the transaction; keep a copy to restore if it rolls back.
    const saved = new Map([...chains].map(([k, v]) => [k, { ...v }]));
    const savedSession = sessionChain;
    try {
      const commit = commitBatch(batch);
      if (!healthy) healthy = true;
      commits$.next(commit);
      return commit;
    } catch (e) {
      chains.clear();
      for (const [k, v] of saved) chains.set(k, v);
      sessionChain = savedSession;
      queue.unshift(...batch);
      const err = storeError(e, 'recording');
      healthy = false;
      lastError = err;
      errors$.next(err);
      if (!closed) scheduled = setTimeout(() => { try { flushNow(); } catch { /* reported on errors$ */ } }, retryMs);
      throw err;
    }
  };

  const enqueue = (op: Op) => {
    queue.push(op);
    if (queue.length >= maxBatch) {
      try {
        flushNow();
      } catch {
        // reported on errors$; the guard policy denies calls while unhealthy
      }
    } else if (!scheduled) {
      const run = () => {
        try { flushNow(); } catch { /* reported on errors$ */ }
      };
      scheduled = flushDelayMs > 0 ? setTimeout(run, flushDelayMs) : setImmediate(run);
    }
  };

  const subs: Subscription[] = [
    monitor.sessionOpened$.subscribe((s) => enqueue({ t: 'open', s })),
    monitor.events$.subscribe((e) => enqueue({ t: 'event', e })),
    monitor.decisions$.subscribe((d) => enqueue({ t: 'decision', d })),
    monitor.alerts$.subscribe((a) => enqueue({ t: 'alert', a })),
    monitor.sessionEnded$.subscribe((s) => enqueue({ t: 'end', s })),
  ];
  for (const s of monitor.sessions()) enqueue({ t: 'open', s });

  return {
    get healthy() {
      return healthy;
    },
    get lastError() {
      return lastError;
    },
    get pending() {
      return queue.length;
    },
    commits$: commits$.asObservable(),
    errors$: errors$.asObservable(),
    async flush() {
      if (scheduled) {
        clearImmediate(scheduled as NodeJS.Immediate);
        clearTimeout(scheduled as NodeJS.Timeout);
        scheduled = undefined;
      }
      return flushNow();
    },
    async close() {
      for (const s of subs) s.unsubscribe();
      try {
        if (scheduled) {
          clearImmediate(scheduled as NodeJS.Immediate);
          clearTimeout(scheduled as NodeJS.Timeout);
        }
        flushNow();
      } finally {
        closed = true;
        commits$.complete();
        errors$.complete();
      }
    },
  };
}
