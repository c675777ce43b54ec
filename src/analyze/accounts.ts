import { isDigit, isUpper, isWord } from './scan.js';

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

// One run's groups and separators, reused from run to run: a 1 MB run of `1 1 1 …` has 500k groups,
// and fresh arrays that size outlive the young generation.
const runGroups: string[] = [];
const runSeps: number[] = [];

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
    const groups = runGroups;
    const seps = runSeps;
    groups.length = 0;
    seps.length = 0;
    for (;;) {
      const g = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      groups.push(text.slice(g, i));
      if (i + 1 < n && isSep(text.charCodeAt(i)) && isDigit(text.charCodeAt(i + 1))) {
        seps.push(text.charCodeAt(i));
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
    while (span < skip.length && skip[span]![1] <= start) span++;
    if (span < skip.length && skip[span]![0] <= start) continue;
    // An hour before `:` (`16:00`) is a time.
    if (text[i] === ':' && groups.length > 1 && groups[groups.length - 1]!.length <= 2) groups.pop();
    numbersOf(groups, seps, out);
  }
}

const validDate = (y: number, m: number, d: number): boolean =>
  y >= 1800 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= 31;

/** How many groups at `at` form a calendar date (0 if none): yyyy-mm-dd, dd-mm-yyyy, mm-dd-yyyy or yyyymmdd. */
function dateAt(groups: readonly string[], seps: readonly number[], at: number): number {
  const g = groups[at]!;
  if (
    g.length === 8 &&
    (validDate(+g.slice(0, 4), +g.slice(4, 6), +g.slice(6)) ||
      validDate(+g.slice(4), +g.slice(2, 4), +g.slice(0, 2)))
  )
    return 1;
  if (at + 2 >= groups.length || seps[at] !== seps[at + 1]) return 0;
  const a = groups[at]!,
    b = groups[at + 1]!,
    c = groups[at + 2]!;
  if (a.length === 4 && b.length <= 2 && c.length <= 2 && validDate(+a, +b, +c)) return 3;
  if (c.length === 4 && a.length <= 2 && b.length <= 2 && (validDate(+c, +b, +a) || validDate(+c, +a, +b)))
    return 3;
  return 0;
}

/** A time right after a date: `16`, `1600`, `160000` (hh, hhmm, hhmmss). */
const isTime = (g: string): boolean =>
  (g.length === 2 || g.length === 4 || g.length === 6) &&
  +g.slice(0, 2) <= 23 &&
  (g.length === 2 || +g.slice(2, 4) <= 59);

/** The account numbers in one run's groups: dates (and a time right after one) removed, the rest joined per segment. */
function numbersOf(groups: readonly string[], seps: readonly number[], out: string[]): void {
  let digits = '';
  for (let k = 0; k < groups.length;) {
    const date = dateAt(groups, seps, k);
    if (date > 0) {
      flush(digits, out);
      digits = '';
      k += date;
      if (k < groups.length && isTime(groups[k]!) && k === groups.length - 1) k++;
      continue;
    }
    // Past 23 digits the run is cut at a group boundary into numbers of their own.
    if (digits.length > 0 && digits.length + groups[k]!.length > 23) {
      flush(digits, out);
      digits = '';
    }
    digits += groups[k]!;
    k++;
  }
  flush(digits, out);
}

function flush(digits: string, out: string[]): void {
  if (digits.length >= 9 && digits.length <= 23) out.push(digits);
}
