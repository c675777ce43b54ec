import type { CorrelatedRequest, Direction, EventKind, Identity, SessionEvent } from '../events/types.js';
import type { ValidMessage } from '../events/validate.js';
import type { Intent } from '../intent/types.js';

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
 * Per-session state. Immutable: {@link advance} returns a new object and never mutates the old one, so
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
  readonly toolsUsed: ReadonlyMap<string, number>;
  readonly pending: ReadonlyMap<string, PendingRequest>;
  readonly tools: ReadonlyMap<string, ToolInfo>;
  /** How many `tools/list` answers changed an already-known tool definition. */
  readonly toolDefinitionChanges: number;
  readonly clientCapabilities?: Readonly<Record<string, unknown>>;
  readonly status: SessionStatus;
}

/** What arrives at the reducer: a classified message (or a validation fault) with its metadata. */
export interface Incoming {
  readonly dir: Direction;
  readonly raw: unknown;
  readonly bytes: number;
  readonly time: number;
  readonly message?: ValidMessage;
  readonly fault?: { readonly code: string; readonly message: string };
  readonly synthetic?: boolean;
}

export function initialState(init: {
  id: string;
  key: string;
  intent: Intent;
  identity?: Identity;
  transport?: string;
  transportSessionId?: string;
  startedAt: number;
}): SessionState {
  return {
    ...init,
    lastTime: init.startedAt,
    seq: 0,
    calls: 0,
    toolsUsed: new Map(),
    pending: new Map(),
    tools: new Map(),
    toolDefinitionChanges: 0,
    status: 'open',
  };
}

export const opposite = (d: Direction): Direction => (d === 'c2s' ? 's2c' : 'c2s');
export const pendingKey = (requester: Direction, id: string | number): string => `${requester}|${typeof id}|${id}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Map<K, V> {
  const next = new Map(map);
  next.set(key, value);
  return next;
}

function withoutEntry<K, V>(map: ReadonlyMap<K, V>, key: K): Map<K, V> {
  const next = new Map(map);
  next.delete(key);
  return next;
}

function learnTools(state: SessionState, result: unknown): Pick<SessionState, 'tools' | 'toolDefinitionChanges'> {
  if (!isObject(result) || !Array.isArray(result.tools)) return state;
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
 */
export function advance(state: SessionState, input: Incoming): { state: SessionState; event: SessionEvent } {
  const base = {
    session: state.id,
    seq: state.seq,
    time: input.time,
    dir: input.dir,
    bytes: input.bytes,
    raw: input.raw,
    ...(state.identity && { identity: state.identity }),
    ...(input.synthetic && { synthetic: true }),
  };
  const next: { -readonly [K in keyof SessionState]: SessionState[K] } = { ...state, seq: state.seq + 1, lastTime: input.time };
  const m = input.message;
  if (!m) {
    return { state: next, event: { ...base, kind: 'invalid', ...(input.fault && { fault: input.fault }) } };
  }
  let event: SessionEvent;
  switch (m.kind) {
    case 'request': {
      const key = pendingKey(input.dir, m.id);
      if (state.pending.has(key)) {
        event = { ...base, kind: 'request', id: m.id, method: m.method, duplicate: true };
        break;
      }
      let tool: string | undefined;
      let args: Record<string, unknown> | undefined;
      let call: number | undefined;
      if (m.method === 'tools/call' && isObject(m.params) && typeof m.params.name === 'string') {
        tool = m.params.name;
        args = isObject(m.params.arguments) ? m.params.arguments : {};
        call = state.calls;
        next.calls = state.calls + 1;
        next.toolsUsed = withEntry(state.toolsUsed, tool, (state.toolsUsed.get(tool) ?? 0) + 1);
      }
      if (m.method === 'initialize' && isObject(m.params) && isObject(m.params.capabilities)) {
        next.clientCapabilities = m.params.capabilities;
      }
      const pending: PendingRequest = {
        dir: input.dir, id: m.id, seq: state.seq, method: m.method, time: input.time,
        ...(tool !== undefined && { tool }), ...(call !== undefined && { call }),
      };
      next.pending = withEntry(state.pending, key, pending);
      event = {
        ...base, kind: 'request', id: m.id, method: m.method,
        ...(tool !== undefined && { tool, args: args!, call: call! }),
      };
      break;
    }
    case 'notification': {
      if (m.method === 'notifications/cancelled' && isObject(m.params)) {
        const rid = m.params.requestId;
        const key = (typeof rid === 'string' || typeof rid === 'number') ? pendingKey(input.dir, rid) : undefined;
        const p = key !== undefined ? state.pending.get(key) : undefined;
        if (key !== undefined && p) next.pending = withEntry(state.pending, key, { ...p, cancelled: true });
      }
      event = { ...base, kind: 'notification', method: m.method };
      break;
    }
    case 'response':
    case 'error': {
      const kind: EventKind = m.kind;
      const key = m.id === null ? undefined : pendingKey(opposite(input.dir), m.id);
      const req = key === undefined ? undefined : state.pending.get(key);
      if (req && key !== undefined) {
        next.pending = withoutEntry(state.pending, key);
        if (m.kind === 'response' && req.method === 'tools/list') Object.assign(next, learnTools(state, m.result));
      }
      const request: CorrelatedRequest | undefined = req && {
        seq: req.seq, method: req.method, time: req.time,
        ...(req.tool !== undefined && { tool: req.tool }), ...(req.call !== undefined && { call: req.call }),
      };
      event = {
        ...base, kind,
        ...(m.id !== null && { id: m.id }),
        ...(request ? { request, method: request.method } : { unmatched: true }),
        ...(request?.tool !== undefined && { tool: request.tool, call: request.call! }),
        ...(m.kind === 'response' ? { result: m.result } : { error: m.error }),
      };
      break;
    }
  }
  return { state: next, event };
}

/** The state after the session is halted or closed. */
export function withStatus(state: SessionState, status: SessionStatus): SessionState {
  return state.status === status ? state : { ...state, status };
}
