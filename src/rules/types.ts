import type { Action, Severity } from '../model/policy.js';
import type { Compiled } from './cel.js';

/** Event kinds a rule step can match. */
export const EVENT_KINDS = ['tool_call', 'tool_result', 'tools_list', 'server_request', 'request', 'response', 'notification', 'any'] as const;
export type EventKindName = (typeof EVENT_KINDS)[number];

export interface CompiledStep {
  readonly as: string;
  readonly on: readonly EventKindName[];
  readonly when: Compiled | undefined;
}

interface RuleBase {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly severity: Severity;
  readonly status: string;
  readonly tags: readonly string[];
  readonly references: Readonly<Record<string, readonly string[]>>;
  readonly action: Exclude<Action, 'allow'>;
  /** What an evaluation error does: `fail_closed` applies the rule's action; `skip` only alerts. */
  readonly onError: 'fail_closed' | 'skip';
  readonly exceptions: readonly { readonly name: string; readonly when: Compiled }[];
  readonly message: string;
  readonly redact: readonly string[];
  readonly file: string;
  readonly enabled: boolean;
}

export interface MatchRule extends RuleBase {
  readonly kind: 'match';
  readonly on: readonly EventKindName[];
  readonly when: Compiled;
}

export interface SequenceRule extends RuleBase {
  readonly kind: 'sequence';
  readonly withinMs: number;
  readonly maxPending: number;
  readonly steps: readonly CompiledStep[];
}

/** Data provenance: content of a `from` result reappears in a later `to` call's arguments. */
export interface FlowRule extends RuleBase {
  readonly kind: 'flow';
  readonly withinMs: number;
  readonly from: { readonly on: readonly EventKindName[]; readonly when: Compiled | undefined };
  readonly to: { readonly on: readonly EventKindName[]; readonly when: Compiled | undefined };
}

export interface RateRule extends RuleBase {
  readonly kind: 'rate';
  readonly on: readonly EventKindName[];
  readonly when: Compiled | undefined;
  readonly threshold: number;
  readonly withinMs: number;
}

export type CompiledRule = MatchRule | SequenceRule | FlowRule | RateRule;

export interface RuleSet {
  readonly rules: readonly CompiledRule[];
  readonly lists: Readonly<Record<string, readonly string[]>>;
  readonly macros: Readonly<Record<string, Compiled>>;
  /** Files read, in load order. */
  readonly files: readonly string[];
  /** Every expression and message text of the set, so the engine can skip work no rule reads. */
  readonly texts: readonly string[];
}
