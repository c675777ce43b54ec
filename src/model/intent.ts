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

/** Sensitive resource categories: a read of one is beyond an approval that does not name it. */
export const SENSITIVE_CATEGORIES = ['environment', 'credentials', 'secrets', 'private-keys'] as const;
export type SensitiveCategory = (typeof SENSITIVE_CATEGORIES)[number];

/**
 * The resources an approval covers, whatever tool names them: every argument that names a path must
 * lie under `paths`, every URL's host in `hosts`; `sensitive` names the categories the task may read.
 */
export interface ResourceScope {
  /** Path prefixes (a directory boundary) or globs (`*`, `?`, `[`, `{`). Absent: no explicit path scope. */
  readonly paths?: readonly string[];
  /** Hosts or domains (`example.com`, `*.corp.example`). Absent: no explicit host scope. */
  readonly hosts?: readonly string[];
  readonly sensitive: readonly SensitiveCategory[];
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
    /** Maximum number of `tools/call` requests, counted over every session of the grant (or principal). */
    readonly calls?: number;
    /** Maximum time in milliseconds from the first session of the grant (or principal). */
    readonly durationMs?: number;
  };
  /** Resources every tool must stay within (see {@link ResourceScope}). */
  readonly resources?: ResourceScope;
  /**
   * Whose budgets and data-flow state this is: `grant` (default: every session presenting the same
   * `jti`) or `principal` (every grant of the same `iss`/`sub`).
   */
  readonly statePer?: 'grant' | 'principal';
  /** `once`: the grant is for one task; it is revoked when its session ends or the task is marked done. */
  readonly task?: 'once';
  /** `approved`: `tools/list` offers the client only the approved tools (see `effectiveVisibility`). Default `all`. */
  readonly visibility?: 'approved' | 'all';
}
