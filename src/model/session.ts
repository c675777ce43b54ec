import type { SmallMap } from '../lib/small-map.js';
import type { CorrelatedRequest, Direction, Identity, ValidMessage } from './events.js';
import type { Intent } from './intent.js';

export type SessionStatus = 'open' | 'halted' | 'closed';

/** A request seen and not yet answered. */
export interface PendingRequest extends CorrelatedRequest {
  readonly dir: Direction;
  readonly id: string | number;
  /** Cancelled by `notifications/cancelled`; a late answer is still accepted once. */
  readonly cancelled?: boolean;
}

/** What `tools/list` told us about a tool. */
export interface ToolInfo {
  readonly name: string;
  readonly description: string;
  readonly annotations?: Readonly<Record<string, unknown>>;
  readonly inputSchema?: unknown;
  /** JSON of the definition, to notice a definition that changes mid-session. */
  readonly digest: string;
}

/**
 * Per-session state. Immutable: `advance` (`monitor/state.ts`) returns a new object and never mutates the old one, so
 * it is a pure reducer that tests drive without RxJS and the monitor drives with `scan`.
 */
export interface SessionState {
  readonly id: string;
  /** `sub#intent-digest`: the approved identity + intent this session is bound to. */
  readonly key: string;
  readonly identity?: Identity;
  readonly intent: Intent;
  /** Transport kind and its session hint (`Mcp-Session-Id`), informational only. */
  readonly transport?: string;
  readonly transportSessionId?: string;
  readonly startedAt: number;
  readonly lastTime: number;
  /** Next event sequence number. */
  readonly seq: number;
  /** Number of `tools/call` requests seen (the next call's index). */
  readonly calls: number;
  readonly toolsUsed: SmallMap<string, number>;
  readonly pending: SmallMap<PendingKey, PendingRequest>;
  readonly tools: ReadonlyMap<string, ToolInfo>;
  /** How many `tools/list` answers changed an already-known tool definition. */
  readonly toolDefinitionChanges: number;
  readonly clientCapabilities?: Readonly<Record<string, unknown>>;
  /** The MCP lifecycle is enforced: `initialize` first and once (see `advance` in `monitor/state.ts`). */
  readonly lifecycle: boolean;
  /** The server answered this session's `initialize` with a result. */
  readonly initialized: boolean;
  readonly status: SessionStatus;
  /** Why the session ended (`closed by client`, `ended by upstream (exit 1)`, the halt reason). */
  readonly endReason?: string;
}

/** What arrives at the reducer: a classified message (or a validation fault) with its metadata. */
export interface Incoming {
  readonly dir: Direction;
  readonly raw: unknown;
  readonly bytes: number;
  readonly time: number;
  /** The message as JSON text, when known (see `SessionEvent.text`). */
  readonly text?: string | undefined;
  readonly message?: ValidMessage;
  readonly fault?: { readonly code: string; readonly message: string };
  readonly synthetic?: boolean;
  /**
   * For intentguard's own answers to a message it refused: the `seq` of the message answered. Such an
   * answer ends the pending request only when that request *is* the refused message (never another
   * request that happens to share its id: the refusal of a duplicate leaves the original in flight).
   */
  readonly answers?: number | undefined;
  /** An approved change of intent: the session continues under this intent (its version is bumped). */
  readonly control?: { readonly intent: Intent; readonly by: string };
}

/**
 * The key of a request in flight: who sent it and its id (see `pendingKey` in `monitor/state.ts`).
 */
export type PendingKey = string | number;
