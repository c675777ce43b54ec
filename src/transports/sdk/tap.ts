import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { Asker } from '../../carrier/asker.js';
import { backlog, Handoff } from '../../carrier/handoff.js';
import { RPC_CODES, type IntentGuardError } from '../../errors.js';
import { errorAnswer, type RequestId } from '../../jsonrpc/message.js';
import { opposite } from '../../monitor/state.js';
import type { Direction } from '../../model/events.js';
import type { Monitor } from '../../monitor/create.js';
import type { SessionHandle } from '../../monitor/handle.js';
import type { OpenSessionOptions, Outcome } from '../../model/decision.js';
import type { EraGate } from '../../mrtr/gate.js';
import { observeThrough } from '../../mrtr/tap-hook.js';
import { Inbound } from './inbound.js';

export interface TapOptions extends OpenSessionOptions {
  /**
   * Which peer holds the wrapped transport: `client` when an SDK `Client` connects through the tap
   * (its sends are client-to-server), `server` when an SDK `Server`/`McpServer` does.
   */
  readonly side: 'client' | 'server';
  /** Carry MCP 2026-07-28 requests too: era per request, version pinning, approvals over MRTR. */
  readonly era?: EraGate;
  /**
   * Back-pressure (the SDK transport cannot pause delivery, so messages are counted): at most this many
   * local sends are being decided and sent at once; a further `send` waits for room, its promise
   * settling later (default 256).
   */
  readonly highWater?: number;
  /**
   * How many local sends may wait beyond {@link highWater} before the next is refused with
   * `ERR_TAP_BACKLOG` (not sent); and, for the remote peer's messages, how many may wait behind a held
   * decision before the session ends with `ERR_TAP_BACKLOG` (fail closed). Default 1024.
   */
  readonly maxBacklog?: number;
}

/** An SDK `Transport` that shows every message to the monitor before it is delivered. */
export interface TappedTransport extends Transport {
  readonly session: SessionHandle;
}

/**
 * Wrap any SDK transport so that every JSON-RPC message, in both directions, becomes a session event
 * and is delivered only as the monitor decides. The wrapped transport is not modified beyond taking
 * its handlers; connect your `Client` or `Server` to the returned transport instead.
 * @example
 * const guarded = tap(new StdioClientTransport({ command: 'mcp-server' }), monitor, { side: 'client', intent });
 * await new Client({ name: 'agent', version: '1' }).connect(guarded);
 */
export function tap(inner: Transport, monitor: Monitor, options: TapOptions): TappedTransport {
  const outbound: Direction = options.side === 'client' ? 'c2s' : 's2c';
  const { side: _side, era: gate, highWater = 256, maxBacklog = 1024, ...open } = options;
  const session = monitor.open({ transport: inner.constructor?.name ?? 'transport', ...open });
  const ends: Ends = {
    session,
    inner,
    outbound,
    inbound: opposite(outbound),
    // Through the era gate when there is one (a client's request admitted first, a server's message
    // passed back through it once decided): the path every carrier takes.
    see: (dir, message) =>
      gate ? observeThrough(gate, session, dir, message) : session.observe(dir, message),
    toLocal: (message, extra) => wrapper.onmessage?.(message as JSONRPCMessage, extra),
    toRemote: (message, opts) => inner.send(message as JSONRPCMessage, opts),
    onError: (e) => wrapper.onerror?.(e),
  };
  // intentguard's own requests to the client (approval prompts): their answers are taken here, not forwarded.
  const asker = new Asker(session, (prompt) =>
    ends.inbound === 's2c' ? ends.toLocal(prompt) : ends.toRemote(prompt),
  );
  const wrapper: TappedTransport = {
    session,
    start: () => inner.start(),
    send: sender(ends, asker, new Handoff(highWater, maxBacklog)),
    async close() {
      session.close('closed by local peer');
      await inner.close();
    },
    get sessionId() {
      return inner.sessionId;
    },
    setProtocolVersion: (version: string) => inner.setProtocolVersion?.(version),
  };
  inner.onmessage = receiver(ends, asker, highWater, maxBacklog, wrapper);
  inner.onerror = (error) => wrapper.onerror?.(error);
  inner.onclose = () => {
    session.close('transport closed');
    wrapper.onclose?.();
  };
  session.attach({
    deliver: (dir, message) => (dir === ends.inbound ? ends.toLocal(message) : ends.toRemote(message)),
    close: () => inner.close(),
    ask: (method, params, signal) => asker.ask(method, params, signal),
  });
  return wrapper;
}

/** One tap's two ends and how a message is shown to its session. */
interface Ends {
  readonly session: SessionHandle;
  readonly inner: Transport;
  /** The local peer's sends. */
  readonly outbound: Direction;
  /** The remote peer's messages. */
  readonly inbound: Direction;
  see(dir: Direction, message: unknown): Outcome | Promise<Outcome>;
  toLocal(message: unknown, extra?: MessageExtraInfo): void;
  toRemote(message: unknown, opts?: TransportSendOptions): Promise<void>;
  onError(e: Error): void;
}

/**
 * The local peer's sends: each decided, then sent (an allowed message straight to the inner send, no
 * extra hop), at most `highWater` at once and a bounded number waiting ({@link Handoff}).
 */
function sender(
  ends: Ends,
  asker: Asker,
  outbound$: Handoff,
): (message: JSONRPCMessage, opts?: TransportSendOptions) => Promise<void> {
  const apply = (outcome: Outcome, opts?: TransportSendOptions): Promise<void> => {
    if (outcome.answer !== undefined) ends.toLocal(outcome.answer);
    return outcome.forward !== undefined ? ends.toRemote(outcome.forward, opts) : Promise.resolve();
  };
  const observeOut = (message: unknown, opts?: TransportSendOptions): Promise<void> => {
    const outcome = ends.see(ends.outbound, message);
    return outcome instanceof Promise ? outcome.then((o) => apply(o, opts)) : apply(outcome, opts);
  };
  // Not an async function: an allowed message goes straight to the inner send, no extra hop.
  return (message, opts) => {
    try {
      // Answers to intentguard's prompts are never held: a held call may be waiting on one.
      if (ends.outbound === 'c2s' && asker.take(message)) return Promise.resolve();
      return outbound$.run(() => observeOut(message, opts));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  };
}

/**
 * The remote peer's messages: each decided and delivered in arrival order ({@link Inbound}); past the
 * bound while decisions are held, the session fails closed.
 */
function receiver(
  ends: Ends,
  asker: Asker,
  highWater: number,
  maxBacklog: number,
  wrapper: Transport,
): (message: JSONRPCMessage, extra?: MessageExtraInfo) => void {
  const apply = (outcome: Outcome, extra?: MessageExtraInfo): void => {
    if (outcome.answer !== undefined) ends.toRemote(outcome.answer).catch(ends.onError);
    if (outcome.forward !== undefined) ends.toLocal(outcome.forward, extra);
  };
  const inbound$ = new Inbound(
    apply,
    maxBacklog,
    (owed) =>
      failClosed(ends.session, backlog(highWater, maxBacklog), owed, ends.inbound, ends.inner, wrapper),
    ends.onError,
  );
  return (message, extra) => {
    if (inbound$.failed) return;
    if (ends.inbound === 'c2s' && asker.take(message)) return;
    inbound$.deliver(message, ends.see(ends.inbound, message), extra);
  };
}

/**
 * The remote peer flooded past the bound while decisions were held: each of its requests waiting gets
 * `ERR_TAP_BACKLOG` now (recorded once the monitor reaches it: the monitor is what is backed up), the
 * session ends (nothing more is delivered either way), the local peer hears the error, and the wrapped
 * transport closes (the remote peer's other requests fail as the connection closes, not by timeout).
 */
function failClosed(
  session: SessionHandle,
  error: IntentGuardError,
  owed: readonly RequestId[],
  inbound: Direction,
  inner: Transport,
  wrapper: Transport,
): void {
  const data = { code: 'ERR_TAP_BACKLOG', session: session.id };
  const sent = owed.map((id) => {
    const answer = errorAnswer(id, RPC_CODES.HALTED, error.message, data);
    void session.record(opposite(inbound), answer).catch(() => undefined);
    return inner.send(answer as JSONRPCMessage).catch(() => undefined);
  });
  session.close(`ended: ${error.message}`);
  wrapper.onerror?.(error);
  void Promise.all(sent).finally(() => void inner.close().catch(() => undefined));
}
