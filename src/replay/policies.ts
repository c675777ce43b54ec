import { intentPolicy } from '../policy/intent-policy.js';
import type { AnyPolicy } from '../model/policy.js';
import type { Visibility } from '../visibility/visibility.js';
import { loadRulePack, packPolicies } from '../rules/pack.js';

export interface ReplayPolicyOptions {
  /** Site rule directories loaded after the shipped pack. */
  readonly rules: readonly string[];
  /** With the rule pack (default), or only the built-in intent policy. */
  readonly pack: boolean;
  /**
   * The proxy's `--visibility` to replay under (`approved`: a call of a tool the session was not
   * offered is denied, `intent/tool-hidden`, as live). Default `all`: the intent's own setting alone.
   */
  readonly visibility?: Visibility;
}

/** The policies a replay runs with: built from plain options, so a worker thread can build its own. */
export function replayPolicies(o: ReplayPolicyOptions): AnyPolicy[] {
  return o.pack ? packPolicies(loadRulePack(o.rules)) : [intentPolicy()];
}
