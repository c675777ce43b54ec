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

/** `s` with every run of whitespace replaced by one space (`s.replace(/\s+/g, ' ')`, but a hand scan). */
export function collapseSpaces(s: string): string {
  let out = '';
  let from = 0;
  let i = 0;
  let changed = false;
  while (i < s.length) {
    if (!isSpace(s.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < s.length && isSpace(s.charCodeAt(j))) j++;
    if (j - i > 1 || s.charCodeAt(i) !== 32) {
      out += `${s.slice(from, i)} `;
      from = j;
      changed = true;
    }
    i = j;
  }
  return changed ? out + s.slice(from) : s;
}
