import type { SessionEvent } from '../events/types.js';
import type { Finding } from '../policy/types.js';
import type { SessionState } from './state.js';

/**
 * Protocol-level checks the monitor makes before any policy: they do not depend on rules and cannot be
 * switched off. Returns the findings (empty when the event is well-formed).
 */
const NONE: readonly Finding[] = Object.freeze([]);

export function coreFindings(event: SessionEvent, state: SessionState, maxPending: number): readonly Finding[] {
  switch (event.kind) {
    case 'invalid':
      return [{
        rule: 'core/invalid-message', action: 'deny', severity: 'medium',
        code: event.fault?.code ?? 'ERR_JSONRPC_INVALID', reason: `message refused: ${event.fault?.message ?? 'invalid'}`,
      }];
    case 'request':
      if (event.duplicate) {
        return [{ rule: 'core/duplicate-request-id', action: 'deny', severity: 'medium', code: 'ERR_DUPLICATE_REQUEST_ID', reason: `request id ${JSON.stringify(event.id)} is already in flight` }];
      }
      if (event.method === 'tools/call' && event.tool === undefined) {
        return [{ rule: 'core/tool-call-params', action: 'deny', severity: 'low', code: 'ERR_TOOL_CALL_PARAMS', reason: 'tools/call needs params.name (string) and params.arguments (object)' }];
      }
      if (state.pending.size > maxPending) {
        return [{ rule: 'core/too-many-pending', action: 'deny', severity: 'medium', code: 'ERR_TOO_MANY_PENDING', reason: `more than ${maxPending} requests in flight` }];
      }
      return NONE;
    case 'response':
    case 'error':
      if (event.unmatched && !(event.kind === 'error' && event.id === undefined)) {
        return [{
          rule: 'core/unmatched-response', action: 'deny', severity: 'high', code: 'ERR_UNMATCHED_RESPONSE',
          reason: `${event.kind} with id ${JSON.stringify(event.id)} answers no pending request (spoofed or replayed); not delivered`,
        }];
      }
      return NONE;
    default:
      return NONE;
  }
}
