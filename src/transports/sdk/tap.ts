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
import { eraHook } from '../../mrtr/tap-hook.js';
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
  const inbound: Direction = outbound === 'c2s' ? 's2c' : 'c2s';
  const { side: _side, era: gate, highWater = 256, maxBacklog = 1024, ...open } = options;
  const session = monitor.open({ transport: inner.constructor?.name ?? 'transport', ...open });
  const era = gate && eraHook(gate, session);

  const toLocal = (message: unknown, extra?: MessageExtraInfo) =>
    wrapper.onmessage?.(message as JSONRPCMessage, extra);
  const toRemote = (message: unknown, opts?: TransportSendOptions) =>
    inner.send(message as JSONRPCMessage, opts);
  // intentguard's own requests to the client (approval prompts): their answers are taken here, not forwarded.
  const asker = new Asker(session, (prompt) => (inbound === 's2c' ? toLocal(prompt) : toRemote(prompt)));

  const applyInbound = (outcome: Outcome, extra?: MessageExtraInfo): void => {
    if (outcome.answer !== undefined) toRemote(outcome.answer).catch((e: Error) => wrapper.onerror?.(e));
    if (outcome.forward !== undefined) toLocal(outcome.forward, extra);
  };
  const inbound$ = new Inbound(
    applyInbound,
    maxBacklog,
    (owed) => failClosed(session, backlog(highWater, maxBacklog), owed, inbound, inner, wrapper),
    (e) => wrapper.onerror?.(e),
  );
  // Local sends: at most highWater decided and sent at once, maxBacklog more waiting (see Handoff).
  const outbound$ = new Handoff(highWater, maxBacklog);
  const applyOutbound = (outcome: Outcome, opts?: TransportSendOptions): Promise<void> | undefined => {
    if (outcome.answer !== undefined) toLocal(outcome.answer);
    return outcome.forward !== undefined ? toRemote(outcome.forward, opts) : undefined;
  };

  // A server's message, once decided, goes through the gate too (task owners, its own inputRequests).
  const see = (dir: Direction, message: unknown): Outcome | Promise<Outcome> => {
    const seen = session.observe(dir, message);
    if (!gate || dir !== 's2c') return seen;
    return seen instanceof Promise ? seen.then((o) => gate.back(session, o)) : gate.back(session, seen);
  };

  const observeOut = (
    message: unknown,
    opts?: TransportSendOptions,
    fix?: (answer: unknown) => unknown,
  ): Promise<void> => {
    const outcome = see(outbound, message);
    const apply = (o: Outcome) =>
      applyOutbound(fix && o.answer !== undefined ? { ...o, answer: fix(o.answer) } : o, opts);
    if (outcome instanceof Promise) return outcome.then(apply);
    return apply(outcome) ?? Promise.resolve();
  };

  const wrapper: TappedTransport = {
    session,
    start: () => inner.start(),
    send(message: JSONRPCMessage, opts?: TransportSendOptions): Promise<void> {
      // Not an async function: an allowed message goes straight to the inner send, no extra hop.
      try {
        // Answers to intentguard's prompts are never held: a held call may be waiting on one.
        if (outbound === 'c2s' && asker.take(message)) return Promise.resolve();
        if (era && outbound === 'c2s')
          return outbound$.run(() => era(message, toLocal, (m, fix) => observeOut(m, opts, fix)));
        return outbound$.run(() => observeOut(message, opts));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
    async close() {
      session.close('closed by local peer');
      await inner.close();
    },
    get sessionId() {
      return inner.sessionId;
    },
    setProtocolVersion: (version: string) => inner.setProtocolVersion?.(version),
  };

  inner.onmessage = (message, extra) => {
    if (inbound$.failed) return;
    if (inbound === 'c2s' && asker.take(message)) return;
    if (era && inbound === 'c2s')
      return void era(
        message,
        (answer) => void toRemote(answer).catch((e: Error) => wrapper.onerror?.(e)),
        (m, fix) => observeIn(m, extra, fix),
      );
    observeIn(message, extra);
  };
  const observeIn = (message: unknown, extra?: MessageExtraInfo, fix?: (answer: unknown) => unknown) => {
    const decided0 = see(inbound, message);
    const patch = (o: Outcome): Outcome =>
      fix && o.answer !== undefined ? { ...o, answer: fix(o.answer) } : o;
    inbound$.deliver(message, decided0 instanceof Promise ? decided0.then(patch) : patch(decided0), extra);
  };
  inner.onerror = (error) => wrapper.onerror?.(error);
  inner.onclose = () => {
    session.close('transport closed');
    wrapper.onclose?.();
  };
  session.attach({
    deliver: (dir, message) => (dir === inbound ? toLocal(message) : toRemote(message)),
    close: () => inner.close(),
    ask: (method, params, signal) => asker.ask(method, params, signal),
  });
  return wrapper;
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
