import { randomUUID } from 'node:crypto';
import { Subject, asapScheduler, type Observable } from '../lib/rx.js';
import { IntentGuardError } from '../errors.js';
import type { Identity, SessionEvent } from '../model/events.js';
import { digest } from '../lib/canonical.js';
import { combinePolicies } from '../policy/combine.js';
import { intentPolicy } from '../policy/intent-policy.js';
import {
  ALLOW,
  policyFailure,
  verdictOf,
  type AnyPolicy,
  type Finding,
  type Verdict,
} from '../model/policy.js';
import { coreFindings } from './core-checks.js';
import { Sequence } from './sequence.js';
import type { Step, Submission } from './submission.js';
import type { SessionCore, SessionHandle } from './handle.js';
import type { MonitorOptions, ResolvedMonitorOptions } from './options.js';
import { createSession } from './session.js';
import { advance, initialState, resumedState, withStatus } from './state.js';
import type { SessionState } from '../model/session.js';
import type { Intent } from '../model/intent.js';
import type { Alert, Decision, OpenSessionOptions, RestoreSessionOptions } from '../model/decision.js';
import type { Incoming } from '../model/session.js';
import { classifyMessage } from '../events/validate.js';
import { effectiveVisibility, hiddenToolFinding } from '../visibility/visibility.js';
import { approvalIdFor, heldForApproval } from '../model/approval-id.js';

export interface Monitor {
  /** Every event of every session, in per-session order, before it is delivered. */
  readonly events$: Observable<SessionEvent>;
  /** One decision per event. */
  readonly decisions$: Observable<Decision>;
  /** One alert per finding at `alert` or stronger. */
  readonly alerts$: Observable<Alert>;
  /** Each session as it opens (its initial state: identity, intent, transport). */
  readonly sessionOpened$: Observable<SessionState>;
  /** Each session as it ends (halted or closed), with its final state. */
  readonly sessionEnded$: Observable<SessionState>;
  readonly options: ResolvedMonitorOptions;
  /** Bind a new session to an approved intent (and identity, when verified). */
  open(options: OpenSessionOptions): SessionHandle;
  /**
   * Continue here a session another instance owned (it died, or its lease ran out): its state is
   * rebuilt from its recorded events through the reducer and the policies — budgets, provenance and
   * rates as they were — with nothing published, asked or written outside (policies see `restoring`),
   * then it goes on under its own id, its next event numbered after the last recorded one. Its opening
   * is not published again (the record has it).
   */
  restore(options: RestoreSessionOptions): Promise<SessionHandle>;
  /** Forget a session another instance now owns: closed here, its end not published (it goes on there). */
  release(id: string): void;
  /** Current state of every live session. */
  sessions(): SessionState[];
  session(id: string): SessionHandle | undefined;
  /** Live counts, for tests that prove teardown. */
  stats(): { sessions: number; groups: number };
  /** Raise an alert about a session that no single event explains (a shared credential, a revoked grant). */
  report(session: string, finding: Finding): void;
  /** Stop the monitor: every live session is closed. */
  close(): void;
}

/** A submission once reduced: it carries its state and event (no wrapper object per message). */
type Scanned = Submission & { readonly state: SessionState; readonly event: SessionEvent };

/** A verdict with one more finding, first (the strongest action still wins; at a tie it names the code). */
const withFinding = (v: Verdict | Promise<Verdict>, f: Finding): Verdict | Promise<Verdict> =>
  isThenable(v) ? v.then((r) => verdictOf([f, ...r.findings])) : verdictOf([f, ...v.findings]);

const isThenable = (v: unknown): v is PromiseLike<Verdict> =>
  typeof (v as PromiseLike<Verdict> | undefined)?.then === 'function';

/**
 * Create a monitor: the event streams, the per-session reducer and the decision pipeline.
 * @example
 * const monitor = createMonitor();
 * monitor.alerts$.subscribe((a) => console.error(a.reason));
 * const guarded = tap(transport, monitor, { side: 'client', intent });
 */
export function createMonitor(options: MonitorOptions = {}): Monitor {
  // A limit that is not a positive number would switch a check off (every comparison with NaN is false).
  for (const k of ['decisionTimeoutMs', 'maxMessageBytes', 'maxPending', 'approvalTimeoutMs'] as const) {
    const v = options[k];
    // Timers take at most 2^31-1 ms (a longer delay fires at once).
    const max = k.endsWith('Ms') ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
    if (v !== undefined && !(typeof v === 'number' && v > 0 && v <= max)) {
      throw new IntentGuardError(
        'ERR_CONFIG',
        `createMonitor: ${k} must be a positive number up to ${max}, got ${String(v)}`,
      );
    }
  }
  const opts: ResolvedMonitorOptions = {
    clock: options.clock ?? Date.now,
    mode: options.mode ?? 'enforce',
    decisionTimeoutMs: options.decisionTimeoutMs ?? 2000,
    maxMessageBytes: options.maxMessageBytes ?? 4 * 1024 * 1024,
    maxPending: options.maxPending ?? 1024,
    approvalTimeoutMs: options.approvalTimeoutMs ?? 60_000,
    scheduler: options.scheduler ?? asapScheduler,
    ...(options.approver && { approver: options.approver }),
    ...(options.visibility && { visibility: options.visibility }),
  };
  const policies =
    options.policy === undefined
      ? [intentPolicy()]
      : Array.isArray(options.policy)
        ? options.policy
        : [options.policy as AnyPolicy];
  const policy: AnyPolicy = combinePolicies(policies);

  const events$ = new Subject<SessionEvent>();
  const decisions$ = new Subject<Decision>();
  const alerts$ = new Subject<Alert>();
  const sessionEnded$ = new Subject<SessionState>();
  const sessionOpened$ = new Subject<SessionState>();
  const live = new Map<string, SessionCore>();
  let groups = 0;
  // Decision/alert ids: a random per-monitor prefix plus a counter (unique, and cheap on the hot path).
  const idBase = randomUUID().replaceAll('-', '').slice(0, 16);
  let idCounter = 0;
  const prefix = { d: `d-${idBase}-`, a: `a-${idBase}-` } as const;
  const nextId = (kind: 'd' | 'a') => prefix[kind] + (idCounter++).toString(36);

  const failClosed = (code: 'ERR_POLICY_FAILED' | 'ERR_POLICY_TIMEOUT', why: string): Verdict =>
    verdictOf([policyFailure(code, why)]);

  /** Decide one event: synchronously when every policy does, else a promise bounded by the timeout. */
  const decide = (
    state: SessionState,
    event: SessionEvent,
    core: SessionCore,
  ): Verdict | Promise<Verdict> => {
    // An answer ends its request's forwarded mark (whoever made the answer).
    const sent = event.request !== undefined && core.sent.delete(event.request.seq);
    if (event.synthetic || event.kind === 'control') return ALLOW;
    const protocol = coreFindings(event, state, opts.maxPending, sent);
    if (protocol.length > 0) return verdictOf(protocol);
    // A call of a tool the session was not offered is denied whatever the policies say.
    const hidden = hiddenToolFinding(
      event,
      state.intent,
      effectiveVisibility(state.intent, opts.visibility, opts.mode),
    );
    if (hidden) return withFinding(decideByPolicy(state, event, core), hidden);
    return decideByPolicy(state, event, core);
  };

  const decideByPolicy = (
    state: SessionState,
    event: SessionEvent,
    core: SessionCore,
  ): Verdict | Promise<Verdict> => {
    let result: Verdict | PromiseLike<Verdict>;
    try {
      result = policy.evaluate({ event, session: state, state: core.policyState });
    } catch (e) {
      return failClosed('ERR_POLICY_FAILED', (e as Error)?.message ?? String(e));
    }
    if (!isThenable(result)) return result;
    const pending = result;
    return new Promise<Verdict>((resolve) => {
      const timeout = opts.scheduler.schedule(
        () => resolve(failClosed('ERR_POLICY_TIMEOUT', `no answer within ${opts.decisionTimeoutMs} ms`)),
        opts.decisionTimeoutMs,
      );
      pending.then(
        (v) => {
          timeout.unsubscribe();
          resolve(v);
        },
        (e: unknown) => {
          timeout.unsubscribe();
          resolve(failClosed('ERR_POLICY_FAILED', (e as Error)?.message ?? String(e)));
        },
      );
    });
  };

  const publish = (sub: Scanned, verdict: Verdict): Step => {
    const { state, event } = sub;
    const decision: Decision = {
      id: nextId('d'),
      session: event.session,
      seq: event.seq,
      time: event.time,
      action: verdict.action,
      findings: verdict.findings,
      dir: event.dir,
      kind: event.kind,
      method: event.method,
      tool: event.tool,
      call: event.call,
      identity: state.identity,
      intentVersion: state.intent.version,
      enforced: opts.mode === 'enforce' && verdict.action !== 'allow' && verdict.action !== 'alert',
    };
    // Emitting to a stream nobody watches still costs a Subject walk per message: skip it.
    if (decisions$.observed) decisions$.next(decision);
    const approvalId = heldForApproval(opts.mode, verdict.action, event.kind, opts.approver)
      ? approvalIdFor(decision)
      : undefined;
    for (const f of verdict.findings) {
      if (f.action === 'allow') continue;
      alerts$.next({
        ...(approvalId !== undefined && { approvalId }),
        id: nextId('a'),
        time: event.time,
        session: event.session,
        decision: decision.id,
        seq: event.seq,
        rule: f.rule,
        ...(f.title !== undefined && { title: f.title }),
        severity: f.severity,
        action: f.action,
        outcome: verdict.action,
        enforced: decision.enforced,
        reason: f.reason,
        ...(f.code !== undefined && { code: f.code }),
        ...(event.method !== undefined && { method: event.method }),
        ...(event.tool !== undefined && { tool: event.tool }),
        ...(event.call !== undefined && { call: event.call }),
        ...(state.identity && { identity: state.identity }),
        intent: {
          purpose: state.intent.purpose,
          version: state.intent.version,
          ...(state.intent.id !== undefined && { id: state.intent.id }),
        },
        ...(f.evidence && { evidence: f.evidence }),
      });
    }
    const step = { event, state, decision };
    sub.resolve(step);
    return step;
  };

  /**
   * Each session's sequence: its messages advance its state in arrival order (the reducer runs as each is
   * submitted), then are decided one at a time in that order — at once when nothing is held, after the
   * held decision otherwise. A sequence lasts from the session's first message to its end.
   */
  interface SessionSequence {
    readonly sequence: Sequence<Scanned>;
    /** The state after the last message submitted (ahead of the decisions while one is held). */
    last: SessionState;
  }
  const sequences = new Map<string, SessionSequence>();
  let closed = false;
  const decideStep = (step: Scanned): void | Promise<void> => {
    step.session.state = step.state;
    if (events$.observed) events$.next(step.event);
    const verdict = decide(step.state, step.event, step.session);
    if (!isThenable(verdict)) {
      publish(step, verdict);
      return;
    }
    return verdict.then((v) => {
      publish(step, v);
    });
  };
  const decisionFault = (e: unknown) => {
    // Decisions never throw by construction; if one does, every live session is closed (fail closed).
    for (const s of [...live.values()])
      s.handle.close(`monitor failure: ${(e as Error)?.message ?? String(e)}`);
  };
  const sequenceOf = (core: SessionCore): SessionSequence => {
    const found = sequences.get(core.id);
    if (found) return found;
    groups++;
    const id = core.id;
    const entry: SessionSequence = {
      sequence: new Sequence<Scanned>(
        decideStep,
        () => {
          groups--;
          if (sequences.get(id) === entry) sequences.delete(id);
          policy.disposeState?.(core.policyState);
        },
        decisionFault,
      ),
      last: core.state,
    };
    sequences.set(id, entry);
    return entry;
  };
  const submit = (sub: Submission): void => {
    if (closed) return;
    const entry = sequenceOf(sub.session);
    let reduced: { state: SessionState; event: SessionEvent };
    try {
      reduced = advance(entry.last, sub.incoming);
    } catch (e) {
      entry.sequence.close();
      decisionFault(e);
      return;
    }
    const { state, event } = reduced;
    entry.last = state;
    sub.state = state;
    sub.event = event;
    entry.sequence.push(sub as Scanned);
  };

  /** Sessions released to another owner: their end here is not published. */
  const released = new Set<string>();
  const register = (state: SessionState, policyState: unknown): SessionCore => {
    const id = state.id;
    const core = createSession({
      state,
      policyState,
      options: opts,
      submit,
      serialize: () => events$.observed,
      onEnd: (final) => {
        live.delete(id);
        sequences.get(id)?.sequence.end();
        if (released.delete(id)) return;
        sessionEnded$.next(final);
      },
    });
    if (state.status === 'open') live.set(id, core);
    return core;
  };

  const monitor: Monitor = {
    events$: events$.asObservable(),
    decisions$: decisions$.asObservable(),
    alerts$: alerts$.asObservable(),
    sessionEnded$: sessionEnded$.asObservable(),
    sessionOpened$: sessionOpened$.asObservable(),
    options: opts,
    open(o: OpenSessionOptions) {
      const id = o.id ?? `ig-${randomUUID()}`;
      if (live.has(id)) throw new Error(`session ${id} is already open`);
      const identity: Identity | undefined = o.identity;
      const state = initialState({
        id,
        key: `${identity?.sub ?? 'anonymous'}#${digest(o.intent)}`,
        intent: o.intent,
        startedAt: opts.clock(),
        ...(identity && { identity }),
        ...(o.transport !== undefined && { transport: o.transport }),
        ...(o.transportSessionId !== undefined && { transportSessionId: o.transportSessionId }),
        lifecycle: o.lifecycle,
      });
      const core = register(state, policy.createState?.(state));
      sessionOpened$.next(state);
      return core.handle;
    },
    async restore(o) {
      if (live.has(o.id)) throw new Error(`session ${o.id} is already open`);
      const identity: Identity | undefined = o.identity;
      let state = initialState({
        id: o.id,
        key: `${identity?.sub ?? 'anonymous'}#${digest(o.intent)}`,
        intent: o.intent,
        startedAt: o.startedAt,
        ...(identity && { identity }),
        ...(o.transport !== undefined && { transport: o.transport }),
        ...(o.transportSessionId !== undefined && { transportSessionId: o.transportSessionId }),
        lifecycle: o.lifecycle,
      });
      const policyState = policy.createState?.(state);
      let seq = 0;
      for (const e of o.events) {
        seq = e.seq + 1;
        const control = e.kind === 'control' ? controlOf(e.raw) : undefined;
        const incoming: Incoming = control
          ? { dir: e.dir, raw: null, bytes: 0, time: e.time, synthetic: true, control }
          : {
              dir: e.dir,
              raw: e.raw,
              bytes: e.bytes,
              time: e.time,
              message: classifyMessage(e.raw),
              synthetic: e.synthetic,
            };
        const step = advance(state, incoming);
        state = step.state;
        // As live: intentguard's own messages and control events are not shown to the policies.
        if (step.event.synthetic || step.event.kind === 'control') continue;
        try {
          await policy.evaluate({ event: step.event, session: state, state: policyState, restoring: true });
        } catch {
          // A policy that fails on a recorded event keeps the state it reached (live, it failed closed).
        }
      }
      state = resumedState(state, seq);
      if (o.halted !== undefined) state = withStatus(state, 'halted', `halted: ${o.halted}`);
      return register(state, policyState).handle;
    },
    release(id) {
      const core = live.get(id);
      if (!core) return;
      released.add(id);
      core.handle.close('released to another instance');
    },
    sessions: () => [...live.values()].map((s) => s.state),
    session: (id) => live.get(id)?.handle,
    stats: () => ({ sessions: live.size, groups }),
    report(sessionId, f) {
      const state = live.get(sessionId)?.state;
      alerts$.next({
        id: nextId('a'),
        time: opts.clock(),
        session: sessionId,
        decision: '',
        seq: state?.seq ?? -1,
        rule: f.rule,
        ...(f.title !== undefined && { title: f.title }),
        severity: f.severity,
        action: f.action,
        outcome: f.action,
        enforced: opts.mode === 'enforce' && f.action !== 'allow' && f.action !== 'alert',
        reason: f.reason,
        ...(f.code !== undefined && { code: f.code }),
        ...(state?.identity && { identity: state.identity }),
        intent: state
          ? {
              purpose: state.intent.purpose,
              version: state.intent.version,
              ...(state.intent.id !== undefined && { id: state.intent.id }),
            }
          : { purpose: '', version: 0 },
        ...(f.evidence && { evidence: f.evidence }),
      });
    },
    close() {
      for (const s of [...live.values()]) s.handle.close('monitor closed');
      closed = true;
      for (const { sequence } of [...sequences.values()]) sequence.close();
      for (const s of [events$, decisions$, alerts$, sessionEnded$, sessionOpened$]) s.complete();
    },
  };
  return monitor;
}

/** The intent change a recorded control event carries (`{ intent, approvedBy }`), if it is one. */
function controlOf(raw: unknown): { intent: Intent; by: string } | undefined {
  const r = raw as { intent?: unknown; approvedBy?: unknown } | null;
  if (!r || typeof r.intent !== 'object' || r.intent === null) return undefined;
  return { intent: r.intent as Intent, by: typeof r.approvedBy === 'string' ? r.approvedBy : 'record' };
}
