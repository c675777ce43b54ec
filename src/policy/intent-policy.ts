import { compileToolGrants } from '../intent/constraints.js';
import type { PathResolver } from '../intent/real-path.js';
import { createGrantScopes, type GrantScopes } from './grant-scope.js';
import { compileResourceScope } from './resource-scope.js';
import type { Action } from '../model/policy.js';
import { ALLOW, verdictOf, type Finding, type Policy } from '../model/policy.js';

export interface IntentPolicyOptions {
  /**
   * What happens to a call of a tool outside the approved tools. Default `reauthorize` (a deny when no
   * approver is configured); `allow` leaves the decision to the rule pack (IG-INT-001/002).
   */
  readonly outsideTools?: Action;
  /** What happens when an argument breaks the approved constraints, or names a location outside `resources`. Default `deny`. */
  readonly argumentViolation?: Action;
  /** An unapproved tool naming a path outside the paths the approved tools are limited to. Default `reauthorize`. */
  readonly outsideScope?: Action;
  /** A location of a sensitive category (environment, credentials, secrets, private keys) the intent does not name. Default `reauthorize`. */
  readonly sensitiveResource?: Action;
  /** What happens when the call or duration budget is exceeded. Default `halt`. */
  readonly budgetExceeded?: Action;
  /**
   * Report a tool call over the budget that this session alone exceeds (default true). `false` when a
   * rule pack halts those itself (IG-BUD-001/002), so one overrun raises one alert: this policy then
   * reports only what the grant's other sessions add (a budget counted over every session of a grant),
   * and non-tool requests past the duration.
   */
  readonly sessionBudget?: boolean;
  /**
   * The server opens paths on this host (`intentguard stdio`, `http -- <command>`): path constraints
   * and resource scopes are checked on the real path (symlinks followed). See `localPathResolver`.
   */
  readonly pathResolver?: PathResolver;
  /** Where per-grant budgets are kept (shared by every session of a grant). Default: one registry per policy. */
  readonly grantScopes?: GrantScopes;
}

interface Usage {
  calls: number;
  readonly startedAt: number;
}

interface IntentState {
  intent: unknown;
  compiled: ReturnType<typeof compileToolGrants>;
  resources: ReturnType<typeof compileResourceScope>;
  /** The budget of the grant (or principal) this session draws on. */
  readonly usage: Usage;
  /** `session.calls` already counted into `usage`. */
  counted: number;
}

/**
 * The built-in policy that makes the monitor useful without a rule pack: tools outside the intent are
 * stopped, argument constraints and resource scopes are enforced (whatever tool names a location), and
 * a budget overrun, counted over every session of the grant, halts the session.
 * @example createMonitor({ policy: intentPolicy({ outsideTools: 'deny' }) })
 */
export function intentPolicy(options: IntentPolicyOptions = {}): Policy<IntentState> {
  const outside = options.outsideTools ?? 'reauthorize';
  const argViolation = options.argumentViolation ?? 'deny';
  const budget = options.budgetExceeded ?? 'halt';
  const actions = {
    outsideResources: argViolation,
    outsideImplied: options.outsideScope ?? 'reauthorize',
    sensitive: options.sensitiveResource ?? 'reauthorize',
  };
  const resolver = options.pathResolver;
  const scopes = options.grantScopes ?? createGrantScopes();
  const compile = (
    state: Pick<IntentState, 'intent' | 'compiled' | 'resources'>,
    intent: Parameters<typeof compileToolGrants>[0],
  ) => {
    state.intent = intent;
    state.compiled = compileToolGrants(intent, resolver);
    state.resources = compileResourceScope(intent, actions, resolver);
  };
  return {
    name: 'intent',
    createState: (session) => {
      const state = {
        usage: scopes.shared<Usage>(session, 'budget', () => ({ calls: 0, startedAt: session.startedAt })),
        counted: 0,
      } as IntentState;
      compile(state, session.intent);
      return state;
    },
    evaluate({ event, session, state }) {
      if (event.kind !== 'request' || event.dir !== 'c2s') return ALLOW;
      // An approved change of intent replaces the session's intent: recompile once.
      if (state.intent !== session.intent) compile(state, session.intent);
      // Every call of the session counts against the grant's budget, whichever session made it.
      state.usage.calls += session.calls - state.counted;
      state.counted = session.calls;
      const grants = state.compiled;
      const findings: Finding[] = [];
      const { budget: limits } = session.intent;
      const shared = state.usage.calls !== session.calls || state.usage.startedAt !== session.startedAt;
      const whose = shared
        ? ` (counted over every session of this ${session.intent.statePer === 'principal' ? 'principal' : 'grant'})`
        : '';
      const own = options.sessionBudget !== false;
      if (
        limits?.durationMs !== undefined &&
        event.time - state.usage.startedAt > limits.durationMs &&
        (own || event.tool === undefined || event.time - session.startedAt <= limits.durationMs)
      ) {
        findings.push({
          rule: 'intent/budget-duration',
          action: budget,
          severity: 'high',
          reason: `exceeded the approved duration of ${limits.durationMs} ms${whose}`,
        });
      }
      // A resource read names a location as much as a tool does: held to the same scope (as an unapproved tool).
      if (event.method === 'resources/read') {
        const uri = (event.raw as { params?: { uri?: unknown } } | undefined)?.params?.uri;
        if (typeof uri === 'string')
          findings.push(...state.resources({ tool: 'resources/read', args: { uri }, approved: false }));
      }
      if (event.tool === undefined) return verdictOf(findings);
      if (
        limits?.calls !== undefined &&
        state.usage.calls > limits.calls &&
        (own || session.calls <= limits.calls)
      ) {
        findings.push({
          rule: 'intent/budget-calls',
          action: budget,
          severity: 'high',
          reason: `call ${state.usage.calls} exceeds the approved budget of ${limits.calls} tool calls${whose}`,
        });
      }
      const approved = grants.approves(event.tool);
      if (!approved) {
        if (outside !== 'allow')
          findings.push({
            rule: 'intent/tool-not-approved',
            action: outside,
            severity: 'medium',
            reason: `outside approved tools: "${event.tool}" is not among the tools approved for "${session.intent.purpose}"`,
          });
      } else {
        for (const why of grants.check(event.tool, event.args ?? {})) {
          findings.push({
            rule: 'intent/argument-constraint',
            action: argViolation,
            severity: 'high',
            reason: `outside approved arguments: ${why}`,
          });
        }
      }
      const info = session.tools.get(event.tool);
      findings.push(
        ...state.resources({
          tool: event.tool,
          args: event.args ?? {},
          approved,
          ...(info && { inputSchema: info.inputSchema, description: info.description }),
        }),
      );
      return verdictOf(findings);
    },
  };
}
