/** Data sensitivity levels, lowest to highest. */
export const SENSITIVITY_LEVELS = ['public', 'internal', 'confidential', 'restricted', 'secret'] as const;
export type Sensitivity = (typeof SENSITIVITY_LEVELS)[number];

/**
 * A limit on one argument of an approved tool. All given checks must hold.
 * `glob` / `prefix` apply to strings; `min` / `max` to numbers; `maxLength` to strings and arrays.
 */
export interface ArgConstraint {
  readonly equals?: unknown;
  readonly oneOf?: readonly unknown[];
  readonly glob?: readonly string[];
  readonly prefix?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly maxLength?: number;
  /** The argument must be present. */
  readonly required?: boolean;
}

/** An approved tool, optionally with argument constraints. */
export interface ToolGrant {
  readonly name: string;
  readonly args?: Readonly<Record<string, ArgConstraint>>;
}

/**
 * The original approval a session is bound to: what the agent was approved to do.
 * Signed into a credential by the identity layer; rules evaluate against it.
 */
export interface Intent {
  /** Stable id of the approval, when the approver gave one. */
  readonly id?: string;
  /** Incremented when an approved change of intent widens it mid-session. */
  readonly version: number;
  /** The approved task, in words. */
  readonly purpose: string;
  /** Approved tools; `'*'` approves every tool (constraints then come only from rules). */
  readonly tools: readonly ToolGrant[] | '*';
  /** Approved hosts/domains (`example.com`, `*.corp.example`), or CIDRs (`10.0.0.0/8`). */
  readonly zones: readonly string[];
  /** Approved counterparties: email addresses, account numbers, user or channel names. */
  readonly recipients: readonly string[];
  /** Highest data sensitivity the task may touch. */
  readonly sensitivity?: Sensitivity;
  readonly budget?: {
    /** Maximum number of `tools/call` requests. */
    readonly calls?: number;
    /** Maximum session length in milliseconds. */
    readonly durationMs?: number;
  };
}
