import { IntentGuardError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parse `90s`, `10m`, `1h30m`, `2d` or a plain number of milliseconds.
 * @example parseDuration('1h30m') // 5400000
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input >= 0) return input;
    throw new IntentGuardError('ERR_DURATION', `duration must be a non-negative number, got ${input}`);
  }
  const text = input.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let end = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = m.index! + m[0].length;
  }
  if (end === 0 || end !== text.length) {
    throw new IntentGuardError(
      'ERR_DURATION',
      `malformed duration "${input}" (use e.g. 500ms, 90s, 10m, 1h30m, 2d)`,
    );
  }
  return total;
}
