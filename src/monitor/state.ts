import type { Direction, Identity, SessionEvent } from '../model/events.js';
import type {
  Incoming,
  PendingKey,
  PendingRequest,
  SessionState,
  SessionStatus,
  ToolInfo,
} from '../model/session.js';
import type { Intent } from '../model/intent.js';
import { SmallMap } from '../lib/small-map.js';
import { isObject } from '../jsonrpc/message.js';

export function initialState(init: {
  id: string;
  key: string;
  intent: Intent;
  identity?: Identity | undefined;
  transport?: string | undefined;
  transportSessionId?: string | undefined;
  startedAt: number;
  lifecycle?: boolean | undefined;
}): SessionState {
  return copyState({
    id: init.id,
    key: init.key,
    identity: init.identity,
    intent: init.intent,
    transport: init.transport,
    transportSessionId: init.transportSessionId,
    startedAt: init.startedAt,
    lastTime: init.startedAt,
    seq: 0,
    calls: 0,
    toolsUsed: SmallMap.empty(),
    pending: SmallMap.empty(),
    tools: new Map(),
    toolDefinitionChanges: 0,
    clientCapabilities: undefined,
    lifecycle: init.lifecycle ?? true,
    initialized: false,
    status: 'open',
    endReason: undefined,
  });
}

export const opposite = (d: Direction): Direction => (d === 'c2s' ? 's2c' : 'c2s');
/**
 * The key of a request in flight: who sent it and its id. Integer ids (the common case) map to a number
 * (even for client requests, odd for server requests), cheaper to build and compare than a string.
 */
export const pendingKey = (requester: Direction, id: string | number): PendingKey =>
  typeof id === 'number' && Number.isSafeInteger(id) && Math.abs(id) < 2 ** 51
    ? requester === 'c2s'
      ? id * 2
      : id * 2 + 1
    : `${requester}|${typeof id}|${id}`;

function learnTools(
  state: SessionState,
  result: unknown,
): Pick<SessionState, 'tools' | 'toolDefinitionChanges'> {
  // Only these two fields: the caller merges the return value into the next state.
  if (!isObject(result) || !Array.isArray(result.tools))
    return { tools: state.tools, toolDefinitionChanges: state.toolDefinitionChanges };
  const tools = new Map(state.tools);
  let changes = state.toolDefinitionChanges;
  for (const t of result.tools) {
    if (!isObject(t) || typeof t.name !== 'string') continue;
    const info: ToolInfo = {
      name: t.name,
      description: typeof t.description === 'string' ? t.description : '',
      ...(isObject(t.annotations) && { annotations: t.annotations }),
      inputSchema: t.inputSchema,
      digest: JSON.stringify([t.description ?? '', t.inputSchema ?? null, t.annotations ?? null]),
    };
    const known = tools.get(t.name);
    if (known && known.digest !== info.digest) changes++;
    tools.set(t.name, info);
  }
  return { tools, toolDefinitionChanges: changes };
}

/**
 * Apply one incoming message to the session: assign its sequence number, correlate responses with
 * their requests, count tool calls, learn tool definitions. Pure: returns the new state and the event.
 *
 * **The pending-table invariant.** `state.pending` holds, per direction and id, exactly the requests
 * the peer may still answer: a request enters when it is seen and leaves when it is answered, and
 * - a request whose id is already pending (a *duplicate*) is marked `duplicate`, refused, and changes
 *   nothing: the entry keeps the request that was sent first;
 * - intentguard's answer to a refused message carries the refused message's `seq` ({@link Incoming.answers})
 *   and ends only that message's own entry (a refused new request: its entry; a refused duplicate or an
 *   invalid message: nothing);
 * - a cancelled request (`notifications/cancelled`) stays pending (marked `cancelled`): the server may
 *   still answer it, so its id is not free for reuse until it does;
 * - a response or error ends the entry of the request it names, and carries that request's `method`,
 *   `tool` and `call`: the answer to a `tools/call` is always analysed as a tool result, because the
 *   only entry its id can name is the `tools/call` that was forwarded under it.
 * The monitor adds (outside this reducer, see `coreFindings`) that an answer to a request which was
 * never forwarded (held, refused) is refused as unmatched: what the monitor expects to be answered is
 * what the server received. `test/adversarial/pending-table.property.test.ts` checks this against a
 * model of the server over random interleavings.
 */
export function advance(state: SessionState, input: Incoming): { state: SessionState; event: SessionEvent } {
  // Hot path: objects are built as literals of one fixed shape (no conditional spreads), which keeps
  // V8 on fast monomorphic paths. Absent fields are `undefined`.
  const event: Mutable<SessionEvent> = {
    session: state.id,
    seq: state.seq,
    time: input.time,
    dir: input.dir,
    kind: 'invalid',
    id: undefined,
    method: undefined,
    tool: undefined,
    args: undefined,
    call: undefined,
    result: undefined,
    error: undefined,
    request: undefined,
    unmatched: undefined,
    duplicate: undefined,
    fault: input.fault,
    synthetic: input.synthetic,
    bytes: input.bytes,
    identity: state.identity,
    raw: input.raw,
    text: input.text,
  };
  const next = copyState(state);
  next.seq = state.seq + 1;
  next.lastTime = input.time;
  if (input.control) {
    next.intent = { ...input.control.intent, version: state.intent.version + 1 };
    event.kind = 'control';
    event.method = 'intentguard/intent-amended';
    event.raw = { intent: next.intent, approvedBy: input.control.by };
    return { state: next, event };
  }
  const m = input.message;
  if (!m) return { state: next, event };
  event.kind = m.kind;
  switch (m.kind) {
    case 'request': {
      event.id = m.id;
      event.method = m.method;
      const key = pendingKey(input.dir, m.id);
      if (state.pending.has(key)) {
        event.duplicate = true;
        break;
      }
      const params = m.params;
      if (
        m.method === 'tools/call' &&
        isObject(params) &&
        typeof params.name === 'string' &&
        (params.arguments === undefined || isObject(params.arguments))
      ) {
        // Absent arguments are `{}` (the SDK's schema makes them optional); any other non-object is refused.
        event.tool = params.name;
        event.args = params.arguments === undefined ? {} : (params.arguments as Record<string, unknown>);
        event.call = state.calls;
        next.calls = state.calls + 1;
        next.toolsUsed = state.toolsUsed.with(params.name, (state.toolsUsed.get(params.name) ?? 0) + 1);
      } else if (m.method === 'initialize' && isObject(params) && isObject(params.capabilities)) {
        next.clientCapabilities = params.capabilities;
      }
      const pending: PendingRequest = {
        dir: input.dir,
        id: m.id,
        seq: state.seq,
        method: m.method,
        time: input.time,
        tool: event.tool,
        call: event.call,
        cancelled: undefined,
      };
      next.pending = state.pending.with(key, pending);
      break;
    }
    case 'notification': {
      event.method = m.method;
      if (m.method === 'notifications/cancelled' && isObject(m.params)) {
        const rid = m.params.requestId;
        const key =
          typeof rid === 'string' || typeof rid === 'number' ? pendingKey(input.dir, rid) : undefined;
        const p = key !== undefined ? state.pending.get(key) : undefined;
        if (key !== undefined && p) next.pending = state.pending.with(key, { ...p, cancelled: true });
      }
      break;
    }
    case 'response':
    case 'error': {
      if (m.id !== null) event.id = m.id;
      if (m.kind === 'response') event.result = m.result;
      else event.error = m.error;
      const key = m.id === null ? undefined : pendingKey(opposite(input.dir), m.id);
      const req = key === undefined ? undefined : state.pending.get(key);
      // intentguard's answer to a refused message ends only that message's own entry.
      if (!req || key === undefined || (input.answers !== undefined && req.seq !== input.answers)) {
        event.unmatched = true;
        break;
      }
      next.pending = state.pending.without(key);
      if (m.kind === 'response') {
        if (req.method === 'tools/list') Object.assign(next, learnTools(state, m.result));
        else if (req.method === 'initialize' && req.dir === 'c2s') next.initialized = true;
      }
      event.request = req;
      event.method = req.method;
      event.tool = req.tool;
      event.call = req.call;
      break;
    }
  }
  return { state: next, event };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function copyState(s: SessionState): Mutable<SessionState> {
  return {
    id: s.id,
    key: s.key,
    identity: s.identity,
    intent: s.intent,
    transport: s.transport,
    transportSessionId: s.transportSessionId,
    startedAt: s.startedAt,
    lastTime: s.lastTime,
    seq: s.seq,
    calls: s.calls,
    toolsUsed: s.toolsUsed,
    pending: s.pending,
    tools: s.tools,
    toolDefinitionChanges: s.toolDefinitionChanges,
    clientCapabilities: s.clientCapabilities,
    lifecycle: s.lifecycle,
    initialized: s.initialized,
    status: s.status,
    endReason: s.endReason,
  };
}

/**
 * A session's state as a new owner continues it from its record: the next event is `seq`, and no
 * request is in flight (those of the old owner died with it: no answer to them can come here).
 */
export function resumedState(state: SessionState, seq: number): SessionState {
  const next = copyState(state);
  next.seq = Math.max(state.seq, seq);
  next.pending = SmallMap.empty();
  return next;
}

/** The state after the session is halted or closed. */
export function withStatus(state: SessionState, status: SessionStatus, endReason?: string): SessionState {
  if (state.status === status && endReason === undefined) return state;
  const next = copyState(state);
  next.status = status;
  if (endReason !== undefined) next.endReason = endReason;
  return next;
}
