import type { Outcome } from '../model/decision.js';
import type { Direction } from '../model/events.js';
import type { SessionHandle } from '../monitor/handle.js';
import type { EraGate } from './gate.js';

type Admission = Awaited<ReturnType<EraGate['admit']>>;

/**
 * Show one wire message to the session through the gate — the one path every carrier's relay takes
 * (stdio, WebSocket, the HTTP bridge): a client request is admitted first (refused: recorded and
 * answered, never forwarded; intentguard's own retry material verified and stripped), the monitor's
 * answer to it turned into MRTR where it holds a modern call; a server message, once decided, goes
 * through {@link EraGate.back} (task owners, a server's own inputRequests). `header` reads the request
 * headers of a message that came over HTTP (see {@link EraGate.admit}). Synchronous (no promise) when
 * the monitor decides at once and the gate has nothing to wait for: the carriers' fast path.
 */
export function observeThrough(
  gate: EraGate,
  session: SessionHandle,
  dir: Direction,
  message: unknown,
  bytes?: number,
  text?: string,
  header?: (name: string) => string | undefined,
): Outcome | Promise<Outcome> {
  if (dir === 's2c') {
    const o = session.observe(dir, message, bytes, text);
    return o instanceof Promise ? o.then((x) => gate.back(session, x)) : gate.back(session, o);
  }
  const admitted = gate.admit(session, message, header);
  const go = (a: Admission) => observeAdmitted(gate, session, message, a, bytes, text);
  return admitted instanceof Promise ? admitted.then(go) : go(admitted);
}

/** A client message past {@link EraGate.admit}: refused there, or observed with the gate's answer transform. */
function observeAdmitted(
  gate: EraGate,
  session: SessionHandle,
  message: unknown,
  a: Admission,
  bytes?: number,
  text?: string,
): Outcome | Promise<Outcome> {
  if ('answer' in a) return refusedByGate(session, message, a.answer);
  const same = a.message === message;
  const o = session.observe('c2s', a.message, bytes, same ? text : undefined);
  const fix = (x: Outcome): Outcome =>
    x.answer !== undefined ? { ...x, answer: gate.answer(session, a.message, a.era, x.answer) } : x;
  return o instanceof Promise ? o.then(fix) : fix(o);
}

/** A request the gate refused: recorded as intentguard's own exchange, answered, never forwarded. */
async function refusedByGate(session: SessionHandle, message: unknown, answer: unknown): Promise<Outcome> {
  await session.record('c2s', message);
  await session.record('s2c', answer);
  return { answer };
}
