import { isAsciiLetter, isDigit, isUpper, isWord } from './scan.js';

/**
 * Account numbers in text, by shape: IBANs, and long digit runs (card, account, routing and phone
 * numbers; 9 to 23 digits, optionally grouped by single spaces or dashes). Dates and times are not
 * account numbers: a run that starts with a calendar date (`2024-05-19`, `19-05-2024`, `20240519`)
 * loses the date, and an hour followed by `:` loses the hour, so `2024-05-19 16:00` names nothing.
 * Decimal numbers (`3.14159265358`) are not accounts either. Linear: each character is visited a
 * bounded number of times.
 * @example accountsIn('pay GB29 NWBK 6016 1331 9268 19 on 2024-05-19 16:00')] // ['GB29NWBK60161331926819']
 */
export function accountsIn(text: string): string[] {
  const out: string[] = [];
  // Every account has at least 9 digits (an IBAN at least 10): fewer in the whole text, none.
  let digits = 0;
  for (let i = 0; i < text.length && digits < 9; i++) if (isDigit(text.charCodeAt(i))) digits++;
  if (digits < 9) return out;
  const spans = ibansIn(text);
  for (const [start, end] of spans) out.push(text.slice(start, end).replaceAll(' ', ''));
  // The digit groups of an IBAN are not an account of their own.
  digitRunsIn(text, spans, out);
  return out;
}

const isIbanChar = (c: number): boolean => isUpper(c) || isDigit(c);

/** IBAN-shaped: 2 letters, 2 check digits, then 2–7 groups of 4 alphanumerics (a space allowed before each), and a last group of 1–4. */
function ibansIn(text: string): [number, number][] {
  const found: [number, number][] = [];
  const n = text.length;
  for (let i = 0; i + 4 <= n; i++) {
    if (
      !isUpper(text.charCodeAt(i)) ||
      !isUpper(text.charCodeAt(i + 1)) ||
      !isDigit(text.charCodeAt(i + 2)) ||
      !isDigit(text.charCodeAt(i + 3))
    )
      continue;
    if (i > 0 && isWord(text.charCodeAt(i - 1))) continue;
    // Group ends after each full group of 4, then candidate ends with a trailing 1–4 group; longest first.
    const ends: number[] = [];
    let j = i + 4;
    for (let g = 0; g < 7; g++) {
      const s = text.charCodeAt(j) === 32 ? j + 1 : j;
      let k = s;
      while (k < s + 4 && k < n && isIbanChar(text.charCodeAt(k))) k++;
      if (k - s < 4) break;
      j = k;
      ends.push(j);
    }
    if (ends.length < 2) continue;
    let match = -1;
    for (let g = ends.length - 1; g >= 1 && match < 0; g--) {
      const base = ends[g]!;
      const s = text.charCodeAt(base) === 32 ? base + 1 : base;
      let k = s;
      while (k < s + 4 && k < n && isIbanChar(text.charCodeAt(k))) k++;
      for (let e = k; e >= s && match < 0; e--) {
        const end = e === s ? base : e;
        if (end >= n || !isWord(text.charCodeAt(end))) match = end;
      }
    }
    if (match < 0) continue;
    found.push([i, match]);
    i = match - 1;
  }
  return found;
}

const isSep = (c: number): boolean => c === 32 || c === 45;

// One run's groups, as offsets into the text (no strings, no pointers), in arrays reused from run to run:
// a 1 MB run of `1-1-1…` has 500k groups, and an array of that many fresh strings outlives the young
// generation (the old code's cost per character doubled from 64 KB to 1 MB).
let groupStart = new Int32Array(1024);
let groupEnd = new Int32Array(1024);
let groupSep = new Uint8Array(1024);

/** Make room for group `k` in the reused run arrays. */
function roomFor(k: number): void {
  if (k < groupStart.length) return;
  const grow = <A extends Int32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
    const b = make(a.length * 2);
    b.set(a);
    return b;
  };
  groupStart = grow(groupStart, (n) => new Int32Array(n));
  groupEnd = grow(groupEnd, (n) => new Int32Array(n));
  groupSep = grow(groupSep, (n) => new Uint8Array(n));
}

/** Maximal runs of digits joined by single spaces or dashes, split into their groups. */
function digitRunsIn(text: string, skip: readonly [number, number][], out: string[]): void {
  const n = text.length;
  let i = 0;
  let span = 0;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    let count = 0;
    for (;;) {
      roomFor(count);
      groupStart[count] = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      groupEnd[count] = i;
      count++;
      if (i + 1 < n && isSep(text.charCodeAt(i)) && isDigit(text.charCodeAt(i + 1))) {
        groupSep[count - 1] = text.charCodeAt(i);
        i++;
        continue;
      }
      break;
    }
    // A decimal continuation on either side (`1.5`, `12,000`) makes the whole run a quantity.
    const before =
      start >= 2 &&
      (text[start - 1] === '.' || text[start - 1] === ',') &&
      isDigit(text.charCodeAt(start - 2));
    const after = i + 1 < n && (text[i] === '.' || text[i] === ',') && isDigit(text.charCodeAt(i + 1));
    if (before || after) continue;
    // Digits glued to a word by `-` or `_` (`int-9876543210`, `order_123456789`) are a record id, not an account.
    const c0 = start >= 2 ? text.charCodeAt(start - 1) : 0;
    if ((c0 === 45 || c0 === 95) && isAsciiLetter(text.charCodeAt(start - 2))) continue;
    while (span < skip.length && skip[span]![1] <= start) span++;
    if (span < skip.length && skip[span]![0] <= start) continue;
    // An hour before `:` (`16:00`) is a time.
    if (text[i] === ':' && count > 1 && groupEnd[count - 1]! - groupStart[count - 1]! <= 2) count--;
    numbersOf(text, count, out);
  }
}

const validDate = (y: number, m: number, d: number): boolean =>
  y >= 1800 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= 31;

const groupLength = (k: number): number => groupEnd[k]! - groupStart[k]!;

/** Group `k`'s digits from `from` to `to` (offsets within the group) as a number. */
function groupValue(text: string, k: number, from = 0, to = groupLength(k)): number {
  return +text.slice(groupStart[k]! + from, groupStart[k]! + to);
}

/** How many groups at `at` (of `count`) form a calendar date (0 if none): yyyy-mm-dd, dd-mm-yyyy, mm-dd-yyyy or yyyymmdd. */
function dateAt(text: string, count: number, at: number): number {
  if (
    groupLength(at) === 8 &&
    (validDate(groupValue(text, at, 0, 4), groupValue(text, at, 4, 6), groupValue(text, at, 6)) ||
      validDate(groupValue(text, at, 4), groupValue(text, at, 2, 4), groupValue(text, at, 0, 2)))
  )
    return 1;
  if (at + 2 >= count || groupSep[at] !== groupSep[at + 1]) return 0;
  const a = groupLength(at),
    b = groupLength(at + 1),
    c = groupLength(at + 2);
  if (a > 4 || b > 4 || c > 4) return 0;
  const va = groupValue(text, at),
    vb = groupValue(text, at + 1),
    vc = groupValue(text, at + 2);
  if (a === 4 && b <= 2 && c <= 2 && validDate(va, vb, vc)) return 3;
  if (c === 4 && a <= 2 && b <= 2 && (validDate(vc, vb, va) || validDate(vc, va, vb))) return 3;
  return 0;
}

/** A time right after a date: `16`, `1600`, `160000` (hh, hhmm, hhmmss). */
function isTime(text: string, k: number): boolean {
  const len = groupLength(k);
  return (
    (len === 2 || len === 4 || len === 6) &&
    groupValue(text, k, 0, 2) <= 23 &&
    (len === 2 || groupValue(text, k, 2, 4) <= 59)
  );
}

/** The account numbers in one run's `count` groups: dates (and a time right after one) removed, the rest joined per segment. */
function numbersOf(text: string, count: number, out: string[]): void {
  // The current segment: groups `from` to `k` (exclusive), `digits` digits in all.
  let from = 0;
  let digits = 0;
  for (let k = 0; k < count;) {
    const date = dateAt(text, count, k);
    if (date > 0) {
      flush(text, from, k, digits, out);
      digits = 0;
      k += date;
      if (k < count && isTime(text, k) && k === count - 1) k++;
      from = k;
      continue;
    }
    // Past 23 digits the run is cut at a group boundary into numbers of their own.
    if (digits > 0 && digits + groupLength(k) > 23) {
      flush(text, from, k, digits, out);
      digits = 0;
      from = k;
    }
    digits += groupLength(k);
    k++;
  }
  flush(text, from, count, digits, out);
}

/** Groups `from` to `to` joined, when they make an account number (9 to 23 digits). */
function flush(text: string, from: number, to: number, digits: number, out: string[]): void {
  if (digits < 9 || digits > 23) return;
  // One slice of the text, separators removed: a flat string, not a rope of one-character groups.
  const span = text.slice(groupStart[from]!, groupEnd[to - 1]!);
  out.push(to - from === 1 ? span : span.replaceAll(' ', '').replaceAll('-', ''));
}
