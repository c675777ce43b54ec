import { MCP_REQUEST_METHODS } from '../events/methods.js';
import type { SessionEvent } from '../model/events.js';
import type { Finding } from '../model/policy.js';
import type { SessionState } from '../model/session.js';
import { isObject } from '../jsonrpc/message.js';
import { isModernRequest } from '../era/classify.js';
import { pendingKey } from './state.js';

const NONE: readonly Finding[] = Object.freeze([]);

/** Requests a session may make before its `initialize` was answered (MCP lifecycle). */
const BEFORE_INITIALIZE = new Set(['initialize', 'ping']);

/**
 * Protocol-level checks the monitor makes before any policy: they do not depend on rules and cannot be
 * switched off. Returns the findings (empty when the event is well-formed). `sent` says whether the
 * request a response answers was forwarded to the peer that answers it.
 */
export function coreFindings(
  event: SessionEvent,
  state: SessionState,
  maxPending: number,
  sent: boolean,
): readonly Finding[] {
  switch (event.kind) {
    case 'invalid':
      return [
        {
          rule: 'core/invalid-message',
          action: 'deny',
          severity: 'medium',
          code: event.fault?.code ?? 'ERR_JSONRPC_INVALID',
          reason: `message refused: ${event.fault?.message ?? 'invalid'}`,
        },
      ];
    case 'request':
      if (event.duplicate) {
        return [
          {
            rule: 'core/duplicate-request-id',
            action: 'deny',
            severity: 'medium',
            code: 'ERR_DUPLICATE_REQUEST_ID',
            reason: `request id ${JSON.stringify(event.id)} is already in flight`,
          },
        ];
      }
      if (state.lifecycle) {
        const lifecycle = lifecycleFinding(event, state);
        if (lifecycle) return [lifecycle];
      }
      if (event.method === 'tools/call' && event.tool === undefined) {
        return [
          {
            rule: 'core/tool-call-params',
            action: 'deny',
            severity: 'low',
            code: 'ERR_TOOL_CALL_PARAMS',
            reason: toolCallProblem(event.raw),
          },
        ];
      }
      if (state.pending.size > maxPending) {
        return [
          {
            rule: 'core/too-many-pending',
            action: 'deny',
            severity: 'medium',
            code: 'ERR_TOO_MANY_PENDING',
            reason: `more than ${maxPending} requests in flight`,
          },
        ];
      }
      return NONE;
    case 'notification':
      // A notification gets no answer and no decision is waited for by anyone: a request method sent
      // without an id (a `tools/call` a server might run anyway) is refused, and the refusal recorded.
      if (MCP_REQUEST_METHODS.has(event.method!)) {
        return [
          {
            rule: 'core/notification-method',
            action: 'deny',
            severity: 'high',
            code: 'ERR_NOTIFICATION_METHOD',
            reason: `${JSON.stringify(event.method)} sent as a notification (no id): it is a request, and a request needs an id and a decision`,
          },
        ];
      }
      if (event.method === 'notifications/cancelled') {
        const problem = cancelProblem(event, state);
        if (problem)
          return [
            {
              rule: 'core/cancel-unknown-request',
              action: 'deny',
              severity: 'medium',
              code: 'ERR_CANCEL_UNKNOWN_REQUEST',
              reason: problem,
            },
          ];
      }
      return NONE;
    case 'response':
    case 'error':
      if (event.unmatched && !(event.kind === 'error' && event.id === undefined)) {
        return [
          {
            rule: 'core/unmatched-response',
            action: 'deny',
            severity: 'high',
            code: 'ERR_UNMATCHED_RESPONSE',
            reason: `${event.kind} with id ${JSON.stringify(event.id)} answers no pending request (spoofed or replayed); not delivered`,
          },
        ];
      }
      if (event.request && !sent) {
        return [
          {
            rule: 'core/unmatched-response',
            action: 'deny',
            severity: 'high',
            code: 'ERR_UNMATCHED_RESPONSE',
            reason: `${event.kind} with id ${JSON.stringify(event.id)} answers a request that was not forwarded (held or refused); not delivered`,
          },
        ];
      }
      return NONE;
    default:
      return NONE;
  }
}

/**
 * A `notifications/cancelled` must name a request its sender has in flight (MCP cancellation: "only
 * reference requests that were previously issued in the same direction"). One naming no such request
 * is not forwarded: the monitor's table has nothing to cancel, while a server that reads it late (the
 * SDK handles notifications a tick after requests) may cancel a request that arrives right after it
 * with the same id — which the monitor would then wait on forever.
 */
function cancelProblem(event: SessionEvent, state: SessionState): string | undefined {
  const params = (event.raw as { params?: unknown } | null)?.params;
  const rid = isObject(params) ? params.requestId : undefined;
  if (typeof rid !== 'string' && typeof rid !== 'number')
    return 'notifications/cancelled without a string or integer requestId';
  if (state.pending.has(pendingKey(event.dir, rid))) return undefined;
  return `notifications/cancelled names request ${JSON.stringify(rid)}, which is not in flight from this side; not forwarded`;
}

/** Is an `initialize` other than `self` in flight? (Scanned only until the session is initialized.) */
function initializing(state: SessionState, self: number): boolean {
  for (const p of state.pending.values())
    if (p.method === 'initialize' && p.dir === 'c2s' && p.seq !== self) return true;
  return false;
}

/**
 * The MCP lifecycle: `initialize` first and only once; before it, only `ping`. Requests that follow an
 * `initialize` still in flight pass (a client may pipeline them); after a failed one, they are refused.
 */
function lifecycleFinding(event: SessionEvent, state: SessionState): Finding | undefined {
  if (event.method === 'initialize') {
    if (state.initialized || initializing(state, event.seq)) {
      return {
        rule: 'core/lifecycle',
        action: 'deny',
        severity: 'high',
        code: 'ERR_ALREADY_INITIALIZED',
        reason:
          'the session is already initialized: its identity, intent and capabilities do not change mid-session',
      };
    }
    return event.dir === 'c2s'
      ? undefined
      : {
          rule: 'core/lifecycle',
          action: 'deny',
          severity: 'high',
          code: 'ERR_NOT_INITIALIZED',
          reason: 'only the client initializes a session',
        };
  }
  if (state.initialized || BEFORE_INITIALIZE.has(event.method!) || initializing(state, event.seq))
    return undefined;
  // MCP 2026-07-28 has no handshake: a request carrying its protocol version in `_meta` stands alone
  // (docs/specification/2026-07-28/basic/index.mdx, "Statelessness"). The era gate (src/mrtr/gate.ts)
  // pins a session to one era, so a legacy session cannot skip its initialize this way where it runs.
  // Server-to-client: the requests a server embeds in its MRTR `inputRequests`, which the gate shows the
  // rules under the session's version (src/mrtr/gate.ts `back`); they are still decided by every rule.
  if (isModernRequest(event.raw)) return undefined;
  return {
    rule: 'core/lifecycle',
    action: 'deny',
    severity: 'medium',
    code: 'ERR_NOT_INITIALIZED',
    reason: `${JSON.stringify(event.method)} before the session was initialized: only ping may come before initialize`,
  };
}

/** Why a `tools/call` request has no usable tool: what exactly is wrong with its params. */
function toolCallProblem(raw: unknown): string {
  const params = (raw as { params?: unknown } | null)?.params;
  if (!isObject(params)) return 'tools/call needs params {name, arguments}';
  if (typeof params.name !== 'string') return 'tools/call needs params.name (a string)';
  const a = params.arguments;
  return `tools/call params.arguments must be an object when given, got ${a === null ? 'null' : Array.isArray(a) ? 'an array' : typeof a}`;
}
