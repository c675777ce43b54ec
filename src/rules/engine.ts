import { ProvenanceIndex, type Source } from '../analyze/provenance.js';
import { createGrantScopes, type GrantScopes } from '../policy/grant-scope.js';
import { ALLOW, policyFailure, verdictOf, type Finding, type Policy, type Verdict } from '../model/policy.js';
import type { Compiled } from './cel.js';
import { budgetFinding } from '../analyze/budget.js';
import { answerOverBudget, createAnalysis, eventKind, indexResult, observeEvent, syncIntent, type Analysis, type EventContext } from './context.js';
import { redactValue, renderMessage } from './template.js';
import type { SessionState } from '../model/session.js';
import type { CompiledRule, EventKindName, FlowRule, MatchRule, RateRule, RuleSet, SequenceRule } from './types.js';

interface Partial {
  readonly step: number;
  readonly started: number;
  readonly bound: Record<string, Record<string, unknown>>;
}

/** Per-session state of the rules policy. */
export interface RulesState {
  readonly analysis: Analysis;
  readonly partials: Map<string, Partial[]>;
  readonly rates: Map<string, number[]>;
  /** The rule parts this session's approval rules out (their session guard is false), for the approval they were worked out from. */
  inert?: {
    readonly intent: object;
    readonly parts: ReadonlySet<object>;
    /** The same for the events of one tool (its calls and results), by tool name. */
    readonly byTool: Map<string, ReadonlySet<object>>;
  };
  /**
   * What the analysis of an earlier event, run after that event was delivered, found (an evaluation
   * error): reported with the session's next decision; an enforcing one with every later decision too.
   */
  late: Finding[];
}

export interface RulesPolicyOptions {
  /** IANA time zone for `time.hour` / `time.weekday`. Default UTC. */
  readonly timeZone?: string;
  /** Test hook: make these rules throw while evaluating (proves fail-closed behaviour in fixtures). */
  readonly faultRules?: ReadonlySet<string>;
  /** Where data-flow provenance is kept: per grant (every session of a `jti`), see grant-scope.ts. Default: one registry per policy. */
  readonly grantScopes?: GrantScopes;
}

const kindMatches = (on: readonly EventKindName[], kind: EventKindName): boolean =>
  on.includes(kind) || on.includes('any') || (on.includes('request') && kind === 'tool_call') || (on.includes('response') && (kind === 'tool_result' || kind === 'tools_list'));

class RuleFault extends Error {}

/** What the policy is asked to decide: an event, the session's state, this policy's state for it. */
type Evaluation = Parameters<Policy<RulesState>['evaluate']>[0];

/** Could this rule react to an event of this kind? */
function appliesTo(rule: CompiledRule, kind: EventKindName): boolean {
  switch (rule.kind) {
    case 'match':
    case 'rate': return kindMatches(rule.on, kind);
    case 'flow': return kindMatches(rule.to.on, kind);
    case 'sequence': return rule.steps.some((s) => kindMatches(s.on, kind));
  }
}

/**
 * The rules engine as a {@link Policy}: every enabled rule of the set is evaluated against every event
 * it applies to; all matching rules are reported and the strongest action wins. Expressions were
 * compiled at load; here only closures run.
 * @example createMonitor({ policy: [intentPolicy(), rulesPolicy(loadRules(['rules']))] })
 */
export function rulesPolicy(set: RuleSet, options: RulesPolicyOptions = {}): Policy<RulesState> {
  const rules = set.rules.filter((r) => r.enabled);
  const fragmentFields = (set.texts ?? ['provenance.fragments']).some((t) => /provenance\.(fragments|max_source_sensitivity)/.test(t));
  // Rules indexed by the event kinds they can react to: the hot path never looks at the others.
  const KINDS: EventKindName[] = ['tool_call', 'tool_result', 'tools_list', 'server_request', 'request', 'response', 'notification'];
  const byKind = new Map<EventKindName, CompiledRule[]>(KINDS.map((k) => [k, rules.filter((r) => appliesTo(r, k) || (r.kind === 'flow' && kindMatches(r.from.on, k)))]));
  // Macros are lazy fields of one shared object; they read the context being evaluated right now
  // (evaluation is synchronous) and are cached for that event.
  let current: Record<string, unknown> = {};
  const macroCache = new Map<string, unknown>();
  const macros: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(set.macros)) {
    Object.defineProperty(macros, name, {
      enumerable: true,
      get: () => {
        if (!macroCache.has(name)) macroCache.set(name, fn(current));
        return macroCache.get(name);
      },
    });
  }
  const lists = set.lists;

  const run = (_rule: CompiledRule, fn: Compiled, ctx: Record<string, unknown>): boolean => {
    current = ctx;
    return fn(ctx) === true;
  };

  const excepted = (rule: CompiledRule, ctx: Record<string, unknown>): string | undefined => {
    for (const x of rule.exceptions) {
      try {
        if (run(rule, x.when, ctx)) return x.name;
      } catch {
        // An exception that cannot be evaluated does not excuse the event (fail closed).
      }
    }
    return undefined;
  };

  const finding = (rule: CompiledRule, ctx: Record<string, unknown>, evidence: Record<string, unknown> = {}): Finding => {
    const call = ctx.call as { tool?: string; index?: number; args?: unknown } | undefined;
    return {
      rule: rule.id, title: rule.title, action: rule.action, severity: rule.severity,
      reason: renderMessage(rule.message, ctx, rule.redact),
      evidence: {
        ...(call?.tool && { tool: call.tool, call: call.index, args: redactValue(call.args, 'call.args', rule.redact) }),
        ...evidence,
      },
    };
  };

  const errorFinding = (rule: CompiledRule, e: unknown): Finding => ({
    rule: rule.id, title: rule.title, severity: rule.severity, code: 'ERR_RULE_EVAL',
    action: rule.onError === 'fail_closed' ? rule.action : 'alert',
    reason: `rule ${rule.id} failed while evaluating (${(e as Error)?.message?.split('\n')[0] ?? String(e)}); ${rule.onError === 'fail_closed' ? 'failing closed' : 'skipped'}`,
  });

  const evalMatch = (rule: MatchRule, ec: EventContext, out: Finding[]) => {
    if (!kindMatches(rule.on, ec.kind)) return;
    if (run(rule, rule.when, ec.ctx) && !excepted(rule, ec.ctx)) out.push(finding(rule, ec.ctx));
  };

  const evalRate = (rule: RateRule, ec: EventContext, s: RulesState, now: number, out: Finding[]) => {
    if (!kindMatches(rule.on, ec.kind)) return;
    if (rule.when && !run(rule, rule.when, ec.ctx)) return;
    let times = s.rates.get(rule.id);
    if (!times) s.rates.set(rule.id, (times = []));
    times.push(now);
    while (times.length > 0 && times[0]! <= now - rule.withinMs) times.shift();
    if (times.length > rule.threshold * 4) times.splice(0, times.length - rule.threshold * 4);
    if (times.length >= rule.threshold && !excepted(rule, ec.ctx)) out.push(finding(rule, ec.ctx, { count: times.length, window_ms: rule.withinMs }));
  };

  const evalFlowFrom = (rule: FlowRule, ec: EventContext) => {
    if (!ec.source || !kindMatches(rule.from.on, ec.kind)) return;
    if (!rule.from.when || run(rule, rule.from.when, ec.ctx)) ec.source.flows.add(rule.id);
  };

  const evalFlowTo = (rule: FlowRule, ec: EventContext, now: number, out: Finding[]) => {
    if (!ec.argSources || !kindMatches(rule.to.on, ec.kind)) return;
    // The destination condition is cheap; the provenance of argument text is not: check it first.
    if (rule.to.when && !run(rule, rule.to.when, ec.ctx)) return;
    const hits: Source[] = [];
    for (const src of ec.argSources()) {
      if ((src as Source & { flows?: Set<string> }).flows?.has(rule.id) && now - src.time <= rule.withinMs) hits.push(src);
    }
    if (hits.length === 0) return;
    if (!excepted(rule, ec.ctx)) out.push(finding(rule, ec.ctx, { sources: hits.map((h) => ({ call: h.call, tool: h.tool, injected: h.injected, sensitivity: h.sensitivity })) }));
  };

  const evalSequence = (rule: SequenceRule, ec: EventContext, s: RulesState, now: number, out: Finding[]) => {
    const prior = s.partials.get(rule.id);
    const first = rule.steps[0]!;
    // Nothing under way and this event cannot start the sequence: nothing to do (the common case), no
    // arrays built and nothing stored (an absent entry and an empty one mean the same).
    if ((prior === undefined || prior.length === 0) && !kindMatches(first.on, ec.kind)) return;
    const list = (prior ?? []).filter((p) => now - p.started <= rule.withinMs);
    const next: Partial[] = [];
    let fired = false;
    for (const p of list) {
      const step = rule.steps[p.step]!;
      if (!fired && kindMatches(step.on, ec.kind)) {
        const ctx = { ...ec.ctx, ...p.bound };
        if (!step.when || run(rule, step.when, ctx)) {
          const bound = { ...p.bound, [step.as]: ec.ctx };
          if (p.step + 1 === rule.steps.length) {
            if (!excepted(rule, ctx)) {
              out.push(finding(rule, { ...ctx, ...bound }, { steps: rule.steps.map((st) => st.as) }));
              fired = true;
            }
            continue;
          }
          next.push({ step: p.step + 1, started: p.started, bound });
          continue;
        }
      }
      next.push(p);
    }
    if (kindMatches(first.on, ec.kind) && (!first.when || run(rule, first.when, ec.ctx))) {
      next.push({ step: 1, started: now, bound: { [first.as]: ec.ctx } });
    }
    // Bounded: keep the newest partial matches.
    s.partials.set(rule.id, next.length > rule.maxPending ? next.slice(next.length - rule.maxPending) : next);
  };

  /**
   * Rule parts ruled out for a session: a match or rate rule, a flow's `to` or `from`, or a sequence's
   * first step, whose condition's session guard (cel.ts, `Compiled.guard`: its conjuncts over the
   * approval, the identity and the lists) is false for the session's approval. Worked out once per approval.
   */
  const guarded = rules.filter((r) => !options.faultRules?.has(r.id));
  const inertParts = (s: RulesState, session: SessionState, tool: string | undefined): ReadonlySet<object> => {
    const a = s.analysis;
    if (s.inert?.intent !== a.intentCtx) s.inert = { intent: a.intentCtx, parts: ruledOutBy({ intent: a.intentCtx, principal: a.principalCtx, lists }), byTool: new Map() };
    if (tool === undefined) return s.inert.parts;
    let parts = s.inert.byTool.get(tool);
    if (!parts) {
      const approved = session.intent.tools === '*' || session.intent.tools.some((t) => t.name === tool);
      parts = ruledOutBy({ intent: a.intentCtx, principal: a.principalCtx, lists, tool: { name: tool, approved }, call: { tool } });
      // Bounded: past it, the session's tools are worked out again each time.
      if (s.inert.byTool.size < 1024) s.inert.byTool.set(tool, parts);
    }
    return parts;
  };
  const ruledOutBy = (probe: Record<string, unknown>): ReadonlySet<object> => {
    const ruledOut = (c: Compiled | undefined) => {
      if (!c?.guard) return false;
      try {
        return c.guard(probe) === false;
      } catch {
        return false; // cannot tell: the rule stays
      }
    };
    const parts = new Set<object>();
    for (const r of guarded) {
      if ((r.kind === 'match' || r.kind === 'rate') && ruledOut(r.when)) parts.add(r);
      if (r.kind === 'flow' && ruledOut(r.to.when)) parts.add(r.to);
      if (r.kind === 'flow' && ruledOut(r.from.when)) parts.add(r.from);
      if (r.kind === 'sequence' && ruledOut(r.steps[0]?.when)) parts.add(r.steps[0]!);
    }
    return parts;
  };

  /** A sequence that cannot start (its first step ruled out) and has nothing under way does nothing. */
  const sequenceLive = (rule: SequenceRule, s: RulesState, inert: ReadonlySet<object>): boolean =>
    !inert.has(rule.steps[0]!) || (s.partials.get(rule.id)?.length ?? 0) > 0;

  /** Could this rule report a finding on an event of this kind in this session (not only update state)? */
  const decides = (rule: CompiledRule, kind: EventKindName, s: RulesState, inert: ReadonlySet<object>): boolean => {
    if (options.faultRules?.has(rule.id)) return appliesTo(rule, kind);
    switch (rule.kind) {
      case 'match':
      case 'rate': return kindMatches(rule.on, kind) && !inert.has(rule);
      case 'flow': return kindMatches(rule.to.on, kind) && !inert.has(rule.to);
      case 'sequence': {
        // A sequence fires on its last step.
        if (!kindMatches(rule.steps[rule.steps.length - 1]!.on, kind) && rule.steps.length > 1) return false;
        return sequenceLive(rule, s, inert);
      }
    }
  };

  /**
   * Analysis that can no longer change the decision of the event it belongs to, run after that event
   * is decided (and delivered): at the latest before the next event of any session is evaluated, since
   * results are shared by a grant's sessions; otherwise on the next turn of the event loop.
   */
  const later: (() => void)[] = [];
  const drain = () => {
    for (let i = 0; i < later.length; i++) later[i]!();
    later.length = 0;
  };
  // On the next turn of the event loop, not in a microtask: a carrier often writes what was decided a few
  // promise hops later (an HTTP response), and the analysis should not run before that write.
  const defer = (job: () => void) => {
    if (later.push(job) === 1) setImmediate(drain);
  };

  /** A finding of an analysis run after its event was delivered: reported with the session's next decisions. */
  const lateFinding = (f: Finding, event: { seq: number }): Finding => ({
    ...f,
    reason: `${f.reason} (while analysing event ${event.seq}, after it was delivered)`,
  });

  /** Findings of late analysis for this decision: the enforcing ones stay for the next decisions too. */
  function takeLate(state: RulesState): Finding[] {
    const found = state.late;
    state.late = found.filter((f) => f.action !== 'alert' && f.action !== 'allow');
    return found;
  }

  /**
   * Decide this event now with every rule, or (false) only queue its analysis for after the decision:
   * when no rule can report a finding on it in this session and it is within the analysis budget. A
   * tool call always has a rule to answer to (its arguments' budget at least), and is decided now.
   */
  function decideNow(input: Evaluation): boolean {
    const { event, session, state } = input;
    const kind = eventKind(event);
    if (kind === 'tool_call') return true;
    syncIntent(state.analysis, session);
    const inert = inertParts(state, session, event.tool);
    for (const rule of byKind.get(kind) ?? rules) if (decides(rule, kind, state, inert)) return true;
    if (answerOverBudget(event) !== undefined) return true;
    defer(() => {
      let v: Verdict;
      try {
        v = evaluateEvent(input);
      } catch (e) {
        v = verdictOf([policyFailure('ERR_POLICY_FAILED', (e as Error)?.message ?? String(e))]);
      }
      for (const f of v.findings) state.late.push(lateFinding(f, event));
    });
    return false;
  }

  function evaluateEvent({ event, session, state }: Evaluation): Verdict {
    const ec = observeEvent(state.analysis, session, event, options.timeZone, fragmentFields);
    const ctx = ec.ctx;
    ctx.lists = lists;
    ctx.macros = macros;
    // Cleared, not replaced: most events read no macro, and a Map per event is garbage on the hot path.
    if (macroCache.size > 0) macroCache.clear();
    const out: Finding[] = ec.overBudget === undefined ? [] : [budgetFinding(ec.overBudget)];
    // What the approval rules out for this session (and this tool) is not evaluated: it cannot fire.
    const inert = inertParts(state, session, event.tool);
    for (const rule of byKind.get(ec.kind) ?? rules) {
      try {
        if (options.faultRules?.has(rule.id) && appliesTo(rule, ec.kind)) throw new RuleFault(`injected fault in ${rule.id}`);
        switch (rule.kind) {
          case 'match': if (!inert.has(rule)) evalMatch(rule, ec, out); break;
          case 'rate': if (!inert.has(rule)) evalRate(rule, ec, state, event.time, out); break;
          case 'flow':
            if (!inert.has(rule.to)) evalFlowTo(rule, ec, event.time, out);
            if (!inert.has(rule.from)) evalFlowFrom(rule, ec);
            break;
          case 'sequence':
            if (sequenceLive(rule, state, inert)) evalSequence(rule, ec, state, event.time, out);
            break;
        }
      } catch (e) {
        out.push(errorFinding(rule, e));
      }
    }
    indexResult(state.analysis, ec);
    return out.length === 0 ? ALLOW : verdictOf(out);
  }

  const scopes = options.grantScopes ?? createGrantScopes();
  return {
    name: 'rules',
    // What earlier results contained, and the targets they steered towards, belong to the grant: a read
    // in one session taints a send in another.
    createState: (session) => ({
      analysis: createAnalysis(
        session,
        scopes.shared(session, 'provenance', () => new ProvenanceIndex()),
        scopes.shared(session, 'steered', () => new Set<string>()),
      ),
      partials: new Map(),
      rates: new Map(),
      late: [],
    }),
    evaluate(input) {
      if (later.length > 0) drain();
      const { event, state } = input;
      if (event.synthetic || event.kind === 'invalid' || event.kind === 'control') return ALLOW;
      const late = state.late.length === 0 ? undefined : takeLate(state);
      const verdict = decideNow(input) ? evaluateEvent(input) : ALLOW;
      return late === undefined ? verdict : verdictOf([...late, ...verdict.findings]);
    },
  };
}
