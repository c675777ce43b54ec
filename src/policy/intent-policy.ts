import { compileToolGrants } from '../intent/constraints.js';
import type { Action } from './types.js';
import { ALLOW, verdictOf, type Finding, type Policy } from './types.js';

export interface IntentPolicyOptions {
  /**
   * What happens to a call of a tool outside the approved tools. Default `reauthorize` (a deny when no
   * approver is configured); `allow` leaves the decision to the rule pack (IG-INT-001/002).
   */
  readonly outsideTools?: Action;
  /** What happens when an argument breaks the approved constraints. Default `deny`. */
  readonly argumentViolation?: Action;
  /** What happens when the call or duration budget is exceeded. Default `halt`. */
  readonly budgetExceeded?: Action;
}

type Grants = { intent: unknown; compiled: ReturnType<typeof compileToolGrants> };

/**
 * The built-in policy that makes the monitor useful without a rule pack: tools outside the intent are
 * stopped, argument constraints are enforced, and a budget overrun halts the session.
 * @example createMonitor({ policy: intentPolicy({ outsideTools: 'deny' }) })
 */
export function intentPolicy(options: IntentPolicyOptions = {}): Policy<Grants> {
  const outside = options.outsideTools ?? 'reauthorize';
  const argViolation = options.argumentViolation ?? 'deny';
  const budget = options.budgetExceeded ?? 'halt';
  return {
    name: 'intent',
    createState: (session) => ({ intent: session.intent, compiled: compileToolGrants(session.intent) }),
    evaluate({ event, session, state }) {
      if (event.kind !== 'request' || event.dir !== 'c2s') return ALLOW;
      // An approved change of intent replaces the session's intent: recompile once.
      if (state.intent !== session.intent) {
        state.intent = session.intent;
        state.compiled = compileToolGrants(session.intent);
      }
      const grants = state.compiled;
      const findings: Finding[] = [];
      const { budget: limits } = session.intent;
      if (limits?.durationMs !== undefined && event.time - session.startedAt > limits.durationMs) {
        findings.push({
          rule: 'intent/budget-duration', action: budget, severity: 'high',
          reason: `session exceeded its approved duration of ${limits.durationMs} ms`,
        });
      }
      if (event.tool === undefined) return verdictOf(findings);
      if (limits?.calls !== undefined && session.calls > limits.calls) {
        findings.push({
          rule: 'intent/budget-calls', action: budget, severity: 'high',
          reason: `call ${session.calls} exceeds the approved budget of ${limits.calls} tool calls`,
        });
      }
      if (!grants.approves(event.tool)) {
        if (outside !== 'allow') findings.push({
          rule: 'intent/tool-not-approved', action: outside, severity: 'medium',
          reason: `outside approved tools: "${event.tool}" is not among the tools approved for "${session.intent.purpose}"`,
        });
      } else {
        for (const why of grants.check(event.tool, event.args ?? {})) {
          findings.push({ rule: 'intent/argument-constraint', action: argViolation, severity: 'high', reason: `outside approved arguments: ${why}` });
        }
      }
      return verdictOf(findings);
    },
  };
}
