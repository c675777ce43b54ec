import type { Direction } from '../model/events.js';
import type { Decision, Outcome } from '../model/decision.js';
import type { Intent } from '../model/intent.js';
import type { SessionState, SessionStatus } from '../model/session.js';

/** Where a session's messages go: the tap (or proxy) that carries them. */
export interface SessionEndpoint {
  /** Deliver a message travelling in `dir` (`c2s` reaches the server, `s2c` the client). */
  deliver(dir: Direction, message: unknown): void | Promise<void>;
  /** Close both sides. */
  close(): void | Promise<void>;
  /** Send a request to the client and wait for its answer (intentguard's own prompts). */
  ask?(method: string, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
}

/** A live session: feed it messages, get back what to deliver. */
export interface SessionHandle {
  readonly id: string;
  readonly status: SessionStatus;
  state(): SessionState;
  /**
   * Show the monitor one message and get what to forward and what to answer. Returns the outcome
   * directly when the decision was synchronous and lets the message pass; a promise otherwise (held,
   * refused or halted). `await` works for both. Never rejects: faults become refusals. Carriers that
   * read the message off the wire pass its size in `bytes` and, when `raw` is that whole text parsed,
   * the `text` itself (recorded as received, never serialized again).
   */
  observe(dir: Direction, raw: unknown, bytes?: number, text?: string): Outcome | Promise<Outcome>;
  /** Connect the carrier that halts answer through. */
  attach(endpoint: SessionEndpoint): void;
  /** Answer every in-flight request with an error, close both sides, refuse everything after. */
  halt(reason: string, decision?: Decision): Promise<void>;
  /** End the session normally (transport closed). */
  close(reason?: string): void;
  /** Resolves with the final state once the session has ended (closed, or halted and torn down). */
  whenEnded(): Promise<SessionState>;
  /** Continue under a wider, approved intent (a new version); recorded as a control event. */
  amendIntent(intent: Intent, approvedBy: string): Promise<SessionState>;
  /** Show the monitor a message intentguard itself sends or intercepts (approval prompts). */
  record(dir: Direction, message: unknown): Promise<void>;
  /** Ask the client over this session (an elicitation). Rejects when the carrier cannot. */
  askClient(method: string, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
}

export interface SessionCore {
  readonly id: string;
  state: SessionState;
  /**
   * The `seq` of every request forwarded to its peer and not answered yet: a response whose request is
   * pending but was never forwarded (held, being refused) answers nothing the peer received.
   */
  readonly sent: Set<number>;
  readonly policyState: unknown;
  readonly handle: SessionHandle;
}
