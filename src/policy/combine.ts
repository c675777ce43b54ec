import { ALLOW, verdictOf, type AnyPolicy, type Finding, type Verdict } from '../model/policy.js';

const isThenable = (v: unknown): v is PromiseLike<Verdict> =>
  typeof (v as PromiseLike<Verdict> | undefined)?.then === 'function';

/**
 * Run several policies as one: every finding is kept, the strongest action wins. Stays synchronous
 * when every policy answers synchronously.
 * @example combinePolicies([intentPolicy(), rulesPolicy])
 */
export function combinePolicies(policies: readonly AnyPolicy[]): AnyPolicy {
  // One policy is itself: no wrapper state, no context object per event.
  if (policies.length === 1) return policies[0]!;
  return {
    name: policies.map((p) => p.name).join('+'),
    createState: (s) => policies.map((p) => p.createState?.(s)),
    evaluate({ event, session, state, restoring }) {
      const results = policies.map((p, i) => p.evaluate({ event, session, state: state[i], restoring }));
      const merge = (verdicts: readonly Verdict[]): Verdict => {
        const findings: Finding[] = [];
        for (const v of verdicts) findings.push(...v.findings);
        return findings.length === 0 ? ALLOW : verdictOf(findings);
      };
      return results.some(isThenable) ? Promise.all(results).then(merge) : merge(results as Verdict[]);
    },
    disposeState: (state) => policies.forEach((p, i) => p.disposeState?.(state[i])),
  };
}
