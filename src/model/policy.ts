import type { SessionEvent } from './events.js';
import type { SessionState } from './session.js';

/** The decision vocabulary, weakest to strongest. */
export const ACTIONS = ['allow', 'alert', 'reauthorize', 'deny', 'halt'] as const;
export type Action = (typeof ACTIONS)[number];
export const ACTION_RANK: Readonly<Record<Action, number>> = {
  allow: 0,
  alert: 1,
  reauthorize: 2,
  deny: 3,
  halt: 4,
};

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One rule's opinion about one event. */
export interface Finding {
  /** Stable rule id, e.g. `intent/tool-not-approved` or `MCP-EXF-001`. */
  readonly rule: string;
  readonly action: Action;
  readonly severity: Severity;
  /** Human-readable reason; must not contain secrets (redact before building it). */
  readonly reason: string;
  /** A stable error code when the finding comes from a fault (e.g. `ERR_POLICY_FAILED`). */
  readonly code?: string;
  readonly title?: string;
  /** Extra structured evidence for alerts (already redacted). */
  readonly evidence?: Readonly<Record<string, unknown>>;
}

/** A policy's answer: the strongest action and every finding that led to it. */
export interface Verdict {
  readonly action: Action;
  readonly findings: readonly Finding[];
}

export interface PolicyInput<S> {
  readonly event: SessionEvent;
  /** Session state after this event was applied. */
  readonly session: SessionState;
  /** This policy's own per-session state, from {@link Policy.createState}. */
  readonly state: S;
  /**
   * True while the monitor rebuilds a session's state from its record (another instance owned it):
   * update your state, write nothing outside this process (the event was counted when it happened).
   */
  readonly restoring?: boolean;
}

/**
 * What the monitor asks about every event. The rules engine implements this; so does the built-in
 * intent policy. `evaluate` may return a promise; a rejection, a throw or a late answer fails closed.
 */
export interface Policy<S = unknown> {
  readonly name: string;
  /** Per-session state owned by this policy; released with {@link Policy.disposeState} when the session ends. */
  createState?(session: SessionState): S;
  evaluate(input: PolicyInput<S>): Verdict | Promise<Verdict>;
  disposeState?(state: S): void;
}

/**
 * A policy whatever its state type. `Policy<S>` is invariant in `S`, and a list of policies mixes
 * states (each policy only ever sees its own), so lists and combinators hold this.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the one place the state type is erased
export type AnyPolicy = Policy<any>;

export const ALLOW: Verdict = Object.freeze({
  action: 'allow',
  findings: Object.freeze([]) as readonly Finding[],
});

/** Strongest action among findings (`allow` when none). */
function strongest(findings: readonly Finding[]): Action {
  let best: Action = 'allow';
  for (const f of findings) if (ACTION_RANK[f.action] > ACTION_RANK[best]) best = f.action;
  return best;
}

/** Build a verdict from findings. */
/** The finding a policy that failed or did not answer in time comes to: deny (fail closed). */
export function policyFailure(code: 'ERR_POLICY_FAILED' | 'ERR_POLICY_TIMEOUT', why: string): Finding {
  return {
    rule: 'core/policy-failure',
    action: 'deny',
    severity: 'high',
    code,
    reason: `${code === 'ERR_POLICY_TIMEOUT' ? 'policy timed out' : 'policy failed'}; failing closed: ${why}`,
  };
}

export function verdictOf(findings: readonly Finding[]): Verdict {
  return findings.length === 0 ? ALLOW : { action: strongest(findings), findings };
}
