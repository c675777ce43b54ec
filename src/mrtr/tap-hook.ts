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
    const a = gate.admit(session, message, header);
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
