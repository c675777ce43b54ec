import type { Finding } from '../model/policy.js';

/**
 * What the analysis of one message may cost. `bytes`: characters of message text handed to the
 * analysers (argument strings and keys, or a result's text); `work`: characters analysed in total,
 * each decoded layer and each accumulated fragment counted again; `depth`: nesting of arguments
 * walked (the wire already refuses JSON deeper than 256). A message past any of them is not analysed
 * further and is decided fail closed with `ERR_ANALYSIS_BUDGET`: nothing is forwarded unscanned.
 * Analysis is linear, so the budget also bounds how long one message can hold the event loop.
 */
export const ANALYSIS_BUDGET = { bytes: 1 << 20, work: 8 << 20, depth: 256 } as const;

/** The running account of one message's analysis. */
export class AnalysisBudget {
  private bytes = 0;
  private work = 0;
  /** Why the analysis stopped short, once it has. */
  exceeded: string | undefined;

  constructor(private readonly limits: { bytes: number; work: number; depth: number } = ANALYSIS_BUDGET) {}

  /** Account for `n` characters of message text; false (and {@link exceeded} set) once over. */
  read(n: number): boolean {
    this.bytes += n;
    this.work += n;
    if (this.bytes > this.limits.bytes)
      this.exceeded ??= `more than ${this.limits.bytes} characters of message text to analyse`;
    return this.exceeded === undefined;
  }

  /** Account for `n` units of extra analysis (decoded layers, fragments); false once over. */
  spend(n: number): boolean {
    this.work += n;
    if (this.work > this.limits.work)
      this.exceeded ??= `more than ${this.limits.work} units of analysis work`;
    return this.exceeded === undefined;
  }

  /**
   * Account for the decoded readings of a text: everything when they were cut off for being compressed
   * past the bound (unreadable: fail closed), then each reading. Returns the readings within the budget.
   */
  spendLayers(layers: readonly string[] & { readonly overflow?: true }): string[] {
    if (layers.overflow) this.spend(Infinity);
    return layers.filter((d) => this.spend(d.length));
  }

  /** Whether nesting `depth` may still be walked; false (and {@link exceeded} set) past the limit. */
  deep(depth: number): boolean {
    if (depth > this.limits.depth)
      this.exceeded ??= `arguments nested deeper than ${this.limits.depth} levels`;
    return this.exceeded === undefined;
  }
}

/**
 * The finding for a message whose analysis was cut short: deny (a call is refused, a result withheld),
 * code `ERR_ANALYSIS_BUDGET`.
 * @example budgetFinding('more than 1048576 characters of message text to analyse').code // 'ERR_ANALYSIS_BUDGET'
 */
export function budgetFinding(why: string): Finding {
  return {
    rule: 'core/analysis-budget',
    action: 'deny',
    severity: 'high',
    code: 'ERR_ANALYSIS_BUDGET',
    reason: `analysis budget exceeded (${why}); failing closed`,
  };
}
