import type { Action } from '../model/policy.js';

const useColour = (stream: NodeJS.WritableStream): boolean =>
  Boolean((stream as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR;

const CODES: Record<Action, string> = {
  allow: '32',
  alert: '33',
  reauthorize: '35',
  deny: '31',
  halt: '1;31',
};

/** An action word, coloured on a terminal, plain when piped. */
export function actionLabel(action: Action, stream: NodeJS.WritableStream = process.stdout): string {
  const word = action.toUpperCase().padEnd(11);
  return useColour(stream) ? `\x1b[${CODES[action]}m${word}\x1b[0m` : word;
}

/** Short single-line JSON for a console line. */
export function brief(value: unknown, max = 80): string {
  const s = JSON.stringify(value) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export { printable } from '../lib/printable.js';
