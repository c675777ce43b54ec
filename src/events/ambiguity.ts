/**
 * JSON that two parsers read differently. The monitor decides on what `JSON.parse` makes of a message,
 * but a peer may parse the same bytes another way: with a key given twice, JavaScript keeps the last
 * value and some parsers the first (or refuse); Go's `encoding/json` (and other struct decoders) match
 * keys without regard to case, so `{"name":"read","Name":"send"}` names one tool to the monitor and
 * another to the server. Either way, what was decided is not what runs, so such a message is refused.
 */

/** Why a message is ambiguous, or undefined when every peer reads it the same. */
export function ambiguity(value: unknown, text?: string): string | undefined {
  const seen = { keys: 0, clash: undefined as string | undefined };
  countParsed(value, seen, 0);
  if (seen.clash !== undefined) return seen.clash;
  // A key given twice survives in the text only: JSON.parse kept one of them.
  if (text !== undefined && !colonsAtMost(text, seen.keys) && keysInText(text) !== seen.keys)
    return 'an object gives the same key more than once (parsers disagree on which value counts)';
  return undefined;
}

/** Count the keys of every object in a parsed value; note the first pair of keys equal but for case. */
function countParsed(v: unknown, seen: { keys: number; clash: string | undefined }, depth: number): void {
  if (typeof v !== 'object' || v === null || depth > 1024) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) countParsed(v[i], seen, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  let n = 0;
  let foldable = false;
  for (const k in o) {
    n++;
    if (!foldable && needsFold(k)) foldable = true;
    countParsed(o[k], seen, depth + 1);
  }
  seen.keys += n;
  if (foldable && n > 1 && seen.clash === undefined) {
    const keys = Object.keys(o);
    if (new Set(keys.map(fold)).size < n)
      seen.clash = `an object has keys that differ only in case (${JSON.stringify(clashing(keys))}): case-insensitive parsers read them as one`;
  }
}

/** Whether a key could fold to another key: it has a capital or a character outside ASCII. */
function needsFold(k: string): boolean {
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c >= 128) return true;
  }
  return false;
}

/** Simple case folding, as close as JavaScript gets (`ſ` → `s`, the Kelvin sign → `k`). */
const fold = (k: string): string => k.toUpperCase().toLowerCase();

function clashing(keys: readonly string[]): string[] {
  const by = new Map<string, string[]>();
  for (const k of keys) by.set(fold(k), [...(by.get(fold(k)) ?? []), k]);
  return [...by.values()].find((g) => g.length > 1)!.slice(0, 2);
}

/**
 * True when `text` holds at most `keys` colons: then it gives no key twice. In valid JSON every key is
 * followed by one colon outside strings, and colons outside strings follow keys only, so the text's
 * colons are its keys plus the colons inside its strings; and the text gives at least the keys the
 * parsed value kept. At most `keys` colons therefore means exactly `keys` keys in the text, none twice.
 * The common case (no colon inside a string) is answered by a few `indexOf` calls instead of a scan of
 * every string ({@link keysInText}), which decides the rest.
 */
function colonsAtMost(text: string, keys: number): boolean {
  let n = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) if (++n > keys) return false;
  return true;
}

/**
 * How many object keys the text of a valid JSON value holds: strings followed by a colon. One pass;
 * outside a string, a quote always opens one.
 */
export function keysInText(text: string): number {
  let n = 0;
  let i = text.indexOf('"');
  while (i !== -1) {
    let end = text.indexOf('"', i + 1);
    // A quote preceded by an odd number of backslashes is escaped and does not close the string.
    while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
    if (end === -1) return n;
    let k = end + 1;
    while (k < text.length && isSpace(text.charCodeAt(k))) k++;
    if (text.charCodeAt(k) === 58 /* : */) n++;
    i = text.indexOf('"', end + 1);
  }
  return n;
}

function escaped(text: string, quote: number): boolean {
  let b = 0;
  while (text.charCodeAt(quote - 1 - b) === 92 /* \ */) b++;
  return b % 2 === 1;
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
