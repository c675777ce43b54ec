import type { Outcome } from '../model/decision.js';
import type { Direction } from '../model/events.js';
import type { SessionHandle } from '../monitor/handle.js';
import type { EraGate } from './gate.js';

/**
 * The era gate as a carrier hook: admit one client message (a refusal goes back to the client and is
 * recorded), else observe the admitted message with the gate's answer transform.
 */
export type EraHook = (
  message: unknown,
  answerClient: (answer: unknown) => unknown,
  observe: (message: unknown, fix: (answer: unknown) => unknown) => Promise<void> | void,
) => Promise<void>;

/** Bind a gate to one session for a carrier. */
export function eraHook(
  gate: EraGate,
  session: SessionHandle,
  header?: (name: string) => string | undefined,
): EraHook {
  return async (message, answerClient, observe) => {
    const a = await gate.admit(session, message, header);
    if ('answer' in a) {
      // Refused before any rule: recorded as intentguard's own exchange, never forwarded.
      await session.record('c2s', message);
      await session.record('s2c', a.answer);
      answerClient(a.answer);
      return;
    }
    await observe(a.message, (answer) => gate.answer(session, a.message, a.era, answer));
  };
}

/**
 * Show one wire message to the session through the gate — the one path every carrier's relay takes
 * (stdio, WebSocket, the HTTP bridge): a client request is admitted first (refused: recorded and
 * answered, never forwarded; intentguard's own retry material verified and stripped), the monitor's
 * answer to it turned into MRTR where it holds a modern call; a server message, once decided, goes
 * through {@link EraGate.back} (task owners, a server's own inputRequests). `header` reads the request
 * headers of a message that came over HTTP (see {@link EraGate.admit}).
 */
export async function observeThrough(
  gate: EraGate,
  session: SessionHandle,
  dir: Direction,
  message: unknown,
  bytes?: number,
  text?: string,
  header?: (name: string) => string | undefined,
): Promise<Outcome> {
  if (dir === 's2c') return gate.back(session, await session.observe(dir, message, bytes, text));
  const a = await gate.admit(session, message, header);
  if ('answer' in a) {
    await session.record('c2s', message);
    await session.record('s2c', a.answer);
    return { answer: a.answer };
  }
  const same = a.message === message;
  const o = await session.observe(dir, a.message, bytes, same ? text : undefined);
  return o.answer !== undefined ? { ...o, answer: gate.answer(session, a.message, a.era, o.answer) } : o;
}
