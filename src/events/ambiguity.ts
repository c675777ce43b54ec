/**
 * JSON that two parsers read differently. The monitor decides on what `JSON.parse` makes of a message,
 * but a peer may parse the same bytes another way: with a key given twice, JavaScript keeps the last
 * value and some parsers the first (or refuse); Go's `encoding/json` (and other struct decoders) match
 * keys without regard to case, so `{"name":"read","Name":"send"}` names one tool to the monitor and
 * another to the server. Either way, what was decided is not what runs, so such a message is refused.
 */

/**
 * Why a message is ambiguous, or undefined when every peer reads it the same. With `text` (the exact
 * text `value` was parsed from, as every proxy has it), the text alone is read, in one pass: a key given
 * twice survives only there, and reading the text touches one string instead of every object of the
 * parsed value (a message's decision runs with cold caches, bench/profile-cold.ts). Without it (a message
 * handed over in process), only keys equal but for case can be there: the parsed value is walked.
 */
export function ambiguity(value: unknown, text?: string): string | undefined {
  if (text !== undefined) return textAmbiguity(text);
  const seen = { clash: undefined as string | undefined };
  clashesParsed(value, seen, 0);
  return seen.clash;
}

const DUPLICATE = 'an object gives the same key more than once (parsers disagree on which value counts)';
const caseClash = (a: string, b: string) =>
  `an object has keys that differ only in case (${JSON.stringify([a, b])}): case-insensitive parsers read them as one`;

/** Note the first pair of keys equal but for case in any object of a parsed value. */
function clashesParsed(v: unknown, seen: { clash: string | undefined }, depth: number): void {
  if (typeof v !== 'object' || v === null || depth > 1024 || seen.clash !== undefined) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) clashesParsed(v[i], seen, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  let n = 0;
  let foldable = false;
  for (const k in o) {
    n++;
    if (!foldable && needsFold(k)) foldable = true;
    clashesParsed(o[k], seen, depth + 1);
  }
  if (foldable && n > 1 && seen.clash === undefined) {
    const keys = Object.keys(o);
    if (new Set(keys.map(fold)).size < n) {
      const [a, b] = clashing(keys);
      seen.clash = caseClash(a!, b!);
    }
  }
}

// The text scan's working memory, reused from message to message (the scan is synchronous): the keys
// of the open objects, innermost last, each beside its fold (`count` of them in use); where each open
// object's keys start (`depth` objects open); and, for an object with many keys, an index of them by
// fold (a linear search stays cheap below that). Counters, not array lengths: setting an array's
// length is a call into the engine, per message and per object.
let keys: string[] = [];
let folds: string[] = [];
const starts: number[] = [];
const indexes: (Map<string, number> | undefined)[] = [];
let count = 0;
let depth = 0;
/** One more than the deepest open object given an index in this scan (0: none). */
let indexed = 0;
const INDEX_FROM = 16;
/** Past this many keys held at once, the arrays are let go after the scan (their strings with them). */
const KEEP_KEYS = 4096;

/**
 * The text of a valid JSON value read for two keys of one object that are the same (after unescaping)
 * or the same but for case. Strings are skipped with `indexOf` (a quote preceded by an odd number of
 * backslashes does not close one); outside strings, `{` and `}` open and close objects, and a string
 * followed by a colon is a key of the innermost open object.
 */
function textAmbiguity(text: string): string | undefined {
  count = depth = indexed = 0;
  const problem = scan(text);
  if (keys.length > KEEP_KEYS) {
    keys = [];
    folds = [];
  }
  for (let d = 0; d < indexed; d++) indexes[d] = undefined;
  return problem;
}

function scan(text: string): string | undefined {
  const n = text.length;
  let i = 0;
  for (;;) {
    const q = text.indexOf('"', i);
    const gap = q === -1 ? n : q;
    for (let k = i; k < gap; k++) {
      const c = text.charCodeAt(k);
      if (c === 123 /* { */) {
        starts[depth] = count;
        indexes[depth++] = undefined;
      } else if (c === 125 /* } */ && depth > 0) count = starts[--depth]!;
    }
    if (q === -1) return undefined;
    let end = text.indexOf('"', q + 1);
    while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
    if (end === -1) return undefined;
    let k = end + 1;
    while (k < n && isSpace(text.charCodeAt(k))) k++;
    if (text.charCodeAt(k) === 58 /* : */ && depth > 0) {
      const raw = text.slice(q + 1, end);
      const key = raw.includes('\\') ? (JSON.parse(text.slice(q, end + 1)) as string) : raw;
      const problem = addKey(key);
      if (problem !== undefined) return problem;
    }
    i = end + 1;
  }
}

/** Add a key to the innermost open object: what is wrong if it repeats one of its keys. */
function addKey(key: string): string | undefined {
  const f = needsFold(key) ? fold(key) : key;
  const top = depth - 1;
  const from = starts[top]!;
  let index = indexes[top];
  let at = -1;
  if (index !== undefined) at = index.get(f) ?? -1;
  else
    for (let j = from; j < count; j++)
      if (folds[j] === f) {
        at = j;
        break;
      }
  if (at !== -1) return keys[at] === key ? DUPLICATE : caseClash(keys[at]!, key);
  keys[count] = key;
  folds[count++] = f;
  if (index !== undefined) index.set(f, count - 1);
  else if (count - from >= INDEX_FROM) {
    index = new Map();
    for (let j = from; j < count; j++) index.set(folds[j]!, j);
    indexes[top] = index;
    if (top >= indexed) indexed = top + 1;
  }
  return undefined;
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

function escaped(text: string, quote: number): boolean {
  let b = 0;
  while (text.charCodeAt(quote - 1 - b) === 92 /* \ */) b++;
  return b % 2 === 1;
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
