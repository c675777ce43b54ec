/** Which way a message travels: client to server, or server to client. */
export type Direction = 'c2s' | 's2c';

/**
 * What a message is. `invalid` marks a message that failed validation and was not forwarded;
 * `control` marks intentguard's own session changes (an approved change of intent), never on the wire.
 */
export type EventKind = 'request' | 'response' | 'notification' | 'error' | 'invalid' | 'control';

/** A verified agent identity (filled from a signed grant once identity lands; `sub` is the agent). */
export interface Identity {
  readonly sub: string;
  readonly iss?: string;
  /** The user the agent acts for (RFC 8693 `act`). */
  readonly act?: { readonly sub: string };
  readonly jti?: string;
  /** When the grant expires (ms since the epoch). */
  readonly expiresAt?: number;
}

/** The request a response answers, as the monitor correlated it. */
export interface CorrelatedRequest {
  readonly seq: number;
  readonly method: string;
  readonly tool?: string;
  /** 0-based index of the `tools/call` in this session, when the request was one. */
  readonly call?: number;
  readonly time: number;
}

/**
 * One JSON-RPC message as the monitor sees it. Every message in either direction becomes exactly one
 * event, in order, before it is delivered (or refused).
 */
export interface SessionEvent {
  /** intentguard's session id (not the transport's `Mcp-Session-Id`). */
  readonly session: string;
  /** 0-based, gap-free per session. */
  readonly seq: number;
  /** Milliseconds since the epoch, from the monitor's injectable clock. */
  readonly time: number;
  readonly dir: Direction;
  readonly kind: EventKind;
  readonly id?: string | number;
  readonly method?: string;
  /** For `tools/call` requests, and for their responses (copied from the correlated request). */
  readonly tool?: string;
  readonly args?: Readonly<Record<string, unknown>>;
  /** 0-based index of the `tools/call` this event is (request) or answers (response). */
  readonly call?: number;
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string; readonly data?: unknown };
  /** For responses and errors: the request they answer. Absent when unmatched. */
  readonly request?: CorrelatedRequest;
  /** A request whose id is already pending in the same direction. */
  readonly duplicate?: boolean;
  /** A response or error whose id matched no pending request. */
  readonly unmatched?: boolean;
  /** For `invalid` events: the validation error code and reason. */
  readonly fault?: { readonly code: string; readonly message: string };
  /** Produced by intentguard itself (an error answer to a denied or halted request). */
  readonly synthetic?: boolean;
  /** Serialized size in bytes. */
  readonly bytes: number;
  readonly identity?: Identity;
  /** The message exactly as received. */
  readonly raw: unknown;
  /**
   * The message as JSON text, when it is known without extra work: the frame as it came off the wire
   * (proxies), or the one serialization the monitor makes when something consumes its events (the
   * recorder). Absent otherwise; `JSON.stringify(raw)` is then the text.
   */
  readonly text?: string;
}

/** The shape of a JSON-RPC 2.0 message after validation. */
export type ValidMessage =
  | { kind: 'request'; id: string | number; method: string; params?: unknown }
  | { kind: 'notification'; method: string; params?: unknown }
  | { kind: 'response'; id: string | number; result: unknown }
  | { kind: 'error'; id: string | number | null; error: { code: number; message: string; data?: unknown } };
