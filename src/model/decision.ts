import type { Direction, EventKind, Identity, SessionEvent } from './events.js';
import type { Intent } from './intent.js';
import type { Action, Finding, Severity } from './policy.js';

/** The monitor's decision about one event. Emitted for every event on `decisions$`. */
export interface Decision {
  /** Unique id; quoted in JSON-RPC errors and alerts so an operator can find the decision. */
  readonly id: string;
  readonly session: string;
  readonly seq: number;
  readonly time: number;
  /** The strongest action of all findings (`allow` when none). */
  readonly action: Action;
  readonly findings: readonly Finding[];
  readonly dir: Direction;
  readonly kind: EventKind;
  readonly method?: string;
  readonly tool?: string;
  readonly call?: number;
  readonly identity?: Identity;
  readonly intentVersion: number;
  /** True when the decision changed what was delivered (`monitor` mode never enforces). */
  readonly enforced: boolean;
}

/** One finding at `alert` or stronger, for security. */
export interface Alert {
  readonly id: string;
  readonly time: number;
  readonly session: string;
  readonly decision: string;
  readonly seq: number;
  readonly rule: string;
  readonly title?: string;
  readonly severity: Severity;
  /** What the rule asked for. */
  readonly action: Action;
  /** What the monitor did with the event (the decision's strongest action). */
  readonly outcome: Action;
  /** Whether `outcome` was carried out: false in monitor mode, where the event was delivered all the same. */
  readonly enforced?: boolean;
  readonly reason: string;
  readonly code?: string;
  readonly method?: string;
  readonly tool?: string;
  readonly call?: number;
  readonly identity?: Identity;
  readonly intent: { readonly purpose: string; readonly version: number; readonly id?: string };
  readonly evidence?: Readonly<Record<string, unknown>>;
  /** The approval a held call waits under (`intentguard approve ID`), when the call is held for an approver. */
  readonly approvalId?: string;
}

/** What the tap must do with a message after the monitor decided. */
export interface Outcome {
  readonly event?: SessionEvent;
  readonly decision?: Decision;
  /** The message to pass on in the original direction (the original, or a substitute error). */
  readonly forward?: unknown;
  /** A message to send back to the sender (an error answering its request). */
  readonly answer?: unknown;
}

/** Asked when a decision is `reauthorize`. Resolves true to let the call through. */
export type Approver = (request: ApprovalRequest) => Promise<boolean>;

export interface ApprovalRequest {
  readonly session: string;
  readonly decision: Decision;
  readonly event: SessionEvent;
  readonly intent: Intent;
  readonly signal: AbortSignal;
}

export interface OpenSessionOptions {
  readonly intent: Intent;
  readonly identity?: Identity;
  /** Override the generated session id (replay uses the bundle's id). */
  readonly id?: string;
  /** Transport kind, e.g. `stdio`, `http`, `inmemory`: informational. */
  readonly transport?: string;
  /** The transport's own session id (`Mcp-Session-Id`): a hint, never the key. */
  readonly transportSessionId?: string;
  /**
   * Enforce the MCP lifecycle (default true): requests other than `ping` before `initialize` was
   * answered are refused (`ERR_NOT_INITIALIZED`), and so is a second `initialize` (`ERR_ALREADY_INITIALIZED`).
   * Replay turns it off (a recorded session may start mid-way).
   */
  readonly lifecycle?: boolean;
}

/** One event as the record holds it: what {@link RestoreSessionOptions} rebuilds a session from. */
export interface RecordedEvent {
  readonly seq: number;
  readonly time: number;
  readonly dir: Direction;
  readonly kind: string;
  /** The message as recorded (for a `control` event: `{ intent, approvedBy }`). */
  readonly raw: unknown;
  readonly bytes: number;
  readonly synthetic: boolean;
}

/** A session another instance owned, to continue here from its record (see `Monitor.restore`). */
export interface RestoreSessionOptions extends OpenSessionOptions {
  readonly id: string;
  /** When the session started (its duration budget runs from then). */
  readonly startedAt: number;
  /** Its recorded events, in `seq` order. */
  readonly events: readonly RecordedEvent[];
  /** The record says it was halted (why): it stays halted here, refusing everything. */
  readonly halted?: string;
}

/** How far an approval reaches: its one call, the rest of the session, or the intent itself. */
export type ApprovalScope = 'once' | 'session' | 'intent';

/** An approval another instance held, as the shared approvals table says it was decided. */
export interface AdoptedApproval {
  readonly id: string;
  readonly approver: string;
  readonly scope: ApprovalScope;
}
