/**
 * Character-level helpers for hand-written scanners. Every function here looks at each character a
 * bounded number of times, so the scanners built from them are linear in their input, whatever it is.
 */

/** Whitespace as JavaScript's `\s` defines it. */
export function isSpace(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
export const isAsciiLetter = (c: number): boolean => isUpper(c) || isLower(c);
export const isAlnum = (c: number): boolean => isDigit(c) || isAsciiLetter(c);
/** A character of `\w` (ASCII letters, digits, underscore): what `\b` looks at. */
export const isWord = (c: number): boolean => isAlnum(c) || c === 95;

/**
 * A lookup table for an ASCII character class: `table[c] === 1` for the members. Faster on hot loops
 * than a chain of comparisons. Characters from 128 up are never members.
 */
export function asciiTable(member: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) t[c] = member(c) ? 1 : 0;
  return t;
}

/** `s` without trailing characters for which `drop` holds (`s.replace(/[…]+$/, '')`, but linear). */
export function trimEnd(s: string, drop: (c: number) => boolean): string {
  let e = s.length;
  while (e > 0 && drop(s.charCodeAt(e - 1))) e--;
  return e === s.length ? s : s.slice(0, e);
}

/**
 * `s` with every run of whitespace replaced by one space (`s.replace(/\s+/g, ' ')`, but a hand scan).
 * The result is written into one buffer and read back in large chunks: appending piece by piece would build a rope
 * of one node per run (250k for a 1 MB text of double spaces) that outlives the young generation.
 */
export function collapseSpaces(s: string): string {
  let i = 0;
  // The first run to change: up to there `s` is kept as it is.
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isSpace(c) && (c !== 32 || (i + 1 < s.length && isSpace(s.charCodeAt(i + 1))))) break;
  }
  if (i === s.length) return s;
  const out = new Uint16Array(s.length);
  for (let k = 0; k < i; k++) out[k] = s.charCodeAt(k);
  let n = i;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (!isSpace(c)) {
      out[n++] = c;
      i++;
      continue;
    }
    i++;
    while (i < s.length && isSpace(s.charCodeAt(i))) i++;
    out[n++] = 32;
  }
  return fromCodes(out, n);
}

/** The first `n` UTF-16 code units of `codes` as a string (lone surrogates kept), in chunks of 8k. */
function fromCodes(codes: Uint16Array, n: number): string {
  const CHUNK = 8192;
  if (n <= CHUNK) return String.fromCharCode(...codes.subarray(0, n));
  const parts: string[] = [];
  for (let k = 0; k < n; k += CHUNK)
    parts.push(String.fromCharCode(...codes.subarray(k, Math.min(n, k + CHUNK))));
  return parts.join('');
}

/**
 * A text built piece by piece in a typed array (off the garbage-collected heap), made one flat string
 * at the end: `+=` per character on a 1 MB text builds a rope whose flattening and collection cost
 * more per character the longer it gets.
 */
export class TextBuilder {
  private units: Uint16Array;
  private n = 0;
  constructor(capacity: number) {
    this.units = new Uint16Array(Math.max(16, capacity));
  }
  /** Append a string (usually one character). */
  add(s: string): void {
    if (this.n + s.length > this.units.length) {
      const grown = new Uint16Array(Math.max(this.units.length * 2, this.n + s.length));
      grown.set(this.units.subarray(0, this.n));
      this.units = grown;
    }
    for (let i = 0; i < s.length; i++) this.units[this.n++] = s.charCodeAt(i);
  }
  toString(): string {
    return utf16.decode(this.units.subarray(0, this.n));
  }
}
const utf16 = new TextDecoder('utf-16le');
