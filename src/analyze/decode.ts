import { gunzipSync, inflateSync } from 'node:zlib';
import { Memo } from './memo.js';
import { invisible } from './normalize.js';
import { asciiTable, isAlnum, isDigit, isSpace, trimEnd } from './scan.js';

/**
 * Bounds on decoding one value: nesting levels, shortest run worth decoding, total output (a multiple
 * of the input), and what one compressed stream may expand to (past it the value is undecodable).
 */
const DECODE_LIMITS = { levels: 4, minRun: 16, outputFactor: 4, inflated: 1 << 20 } as const;

/**
 * What {@link decodedLayers} found: the decoded texts, and `overflow` when a compressed stream in the
 * value expands past {@link DECODE_LIMITS}.inflated (what it hides cannot be read within the bounds:
 * callers fail closed, as for any message over the analysis budget).
 */
export type Decoded = string[] & { overflow?: true };

const B64 = asciiTable((c) => isAlnum(c) || c === 43 || c === 47 || c === 45 || c === 95 || c === 61);
const isB64 = (c: number): boolean => c < 128 && B64[c] === 1;
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const hexVal = (c: number): number => (isDigit(c) ? c - 48 : (c | 32) - 87);

/** Decoded bytes as text, when they read as text (UTF-8, at most 1 in 16 characters unprintable). */
function asText(bytes: Uint8Array): string | undefined {
  if (bytes.length < 4) return undefined;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffd || (c >= 0x7f && c <= 0x9f)) bad++;
  }
  return bad * 16 <= text.length ? text : undefined;
}

/** base64 or base64url (padding optional) of one run, or undefined if it is not that. */
function fromBase64(run: string, flags: Flags): string | undefined {
  const body = trimEnd(run, (c) => c === 61);
  if (body.length % 4 === 1 || body.includes('=')) return undefined;
  // Node's base64 decoder reads both alphabets (base64url's `-` and `_` too). A prefix that is neither
  // text nor a compressed stream rules the whole run out before decoding all of it.
  if (body.length > 64) {
    const head = Buffer.from(body.slice(0, 64), 'base64');
    const compressed = (head[0] === 0x1f && head[1] === 0x8b) || (head[0]! & 0x0f) === 8;
    if (!compressed && asText(head) === undefined) return undefined;
  }
  return bytesAsText(Buffer.from(body, 'base64'), flags);
}

/** RFC 4648 base32 (one case throughout, padding optional) of one run, or undefined if it is not that. */
function fromBase32(run: string, flags: Flags): string | undefined {
  const body = trimEnd(run, (c) => c === 61);
  if (body.includes('=') || [1, 3, 6].includes(body.length % 8)) return undefined;
  const lower = body.charCodeAt(0) >= 97;
  const bytes = new Uint8Array(Math.floor((body.length * 5) / 8));
  let bits = 0,
    acc = 0,
    o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    let v: number;
    if (c >= 50 && c <= 55) v = c - 24;
    else if (!lower && c >= 65 && c <= 90) v = c - 65;
    else if (lower && c >= 97 && c <= 122) v = c - 97;
    else return undefined;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[o++] = (acc >> bits) & 0xff;
    }
  }
  return bytesAsText(bytes, flags);
}

/** Decoded bytes as text: gzip and zlib streams inflated (bounded) first. */
function bytesAsText(bytes: Uint8Array, flags: Flags): string | undefined {
  const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  // A zlib header: deflate (CM 8), a window up to 32 KiB, and a check value (RFC 1950).
  const zlib = (bytes[0]! & 0x0f) === 8 && bytes[0]! >> 4 <= 7 && ((bytes[0]! << 8) | bytes[1]!) % 31 === 0;
  if (bytes.length >= 8 && (gzip || zlib)) {
    try {
      const inflate = gzip ? gunzipSync : inflateSync;
      return asText(inflate(bytes, { maxOutputLength: DECODE_LIMITS.inflated }));
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') flags.overflow = true;
      return undefined;
    }
  }
  return asText(bytes);
}

interface Flags {
  overflow?: true;
}

/**
 * A text built one UTF-16 unit at a time in a reused typed array, made a flat string once at the end:
 * `+=` per character on a 1 MB value builds a rope whose flattening and collection grew per character
 * with the size. `units` may also be written at any index below the capacity, then `n` set.
 */
class Units {
  private static shared = new Uint16Array(1 << 12);
  private static utf16 = new TextDecoder('utf-16le');
  n = 0;
  readonly units: Uint16Array;
  constructor(capacity: number) {
    if (Units.shared.length < capacity)
      Units.shared = new Uint16Array(Math.max(capacity, Units.shared.length * 2));
    this.units = Units.shared;
  }
  push(unit: number): void {
    this.units[this.n++] = unit;
  }
  /** The units as a string; a lone surrogate reads as U+FFFD. */
  text(): string {
    return Units.utf16.decode(this.units.subarray(0, this.n));
  }
}

function fromHex(run: string, flags?: Flags): string | undefined {
  if (run.length % 2 !== 0) return undefined;
  const bytes = new Uint8Array(run.length / 2);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = hexVal(run.charCodeAt(2 * i)) * 16 + hexVal(run.charCodeAt(2 * i + 1));
  if (flags) return bytesAsText(bytes, flags);
  return asText(bytes);
}

/** `%XX` sequences (and `+` as space, as forms send it) decoded; undefined if there are none. */
function fromPercent(s: string): string | undefined {
  let count = 0;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      bytes.push(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
      i += 2;
      count++;
    } else if (c < 0x80) bytes.push(c === 43 ? 32 : c);
    else for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
  }
  return count === 0 ? undefined : new TextDecoder().decode(Uint8Array.from(bytes));
}

const isBase32 = (c: number): boolean =>
  (c >= 50 && c <= 55) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Separators a value is split by to hide a run (`QUtJ QUlP`, `41:4b:49`, zero-width joins): dropped. */
const isFiller = (c: number): boolean =>
  isSpace(c) || c === 44 || c === 59 || c === 58 || c === 124 || invisible(c) || c === 0x2060;

// What the level-0 pass asks of each ASCII character, as bits of one table lookup.
export const K_B64 = 1,
  K_FILLER = 2,
  K_ESCAPE = 8,
  K_DIGIT = 16;
const K_LETTER = 4;
export const KIND = asciiTable(() => false);
for (let c = 0; c < 128; c++)
  KIND[c] =
    (isB64(c) ? K_B64 : 0) |
    (isFiller(c) ? K_FILLER : 0) |
    (isAlnum(c) && !isDigit(c) ? K_LETTER : 0) |
    // Where an escape `unescape` reads can start: `\u`/`\x`, `=XX`, `&#`; `0x` and code lists are digits.
    (c === 92 || c === 61 || c === 38 ? K_ESCAPE : 0) |
    (isDigit(c) ? K_DIGIT : 0);
const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/**
 * Readings of a value that are not decodings of a run: its characters reversed; the value with fillers
 * between its characters dropped; escapes (`\u0041`, `\x41`, `&#65;`, `&#x41;`, `=41`, `0x41`, lists
 * of character codes) turned into the characters they name; compatibility forms (full-width letters)
 * folded by NFKC. One pass over the value classifies it and writes the reversed reading; the others
 * are only built when they can differ from the value (fillers that hide something, 8 places where an
 * escape could start, a character past ASCII). Linear in the value. True when neither the value nor
 * its reversed reading (then `out[0]`) has anything {@link layer} could decode: no '%' and no run of
 * the base64 alphabet long enough.
 */
function readings(s: string, out: string[], left: { chars: number }): boolean {
  const n = s.length;
  if (n < DECODE_LIMITS.minRun) return false;
  // Fillers dropped when they hide something: invisible ones always; visible ones only between short
  // tokens (4 characters at most) of the base64 alphabet with a letter among them (`QUtJ QUlP`,
  // `41:4b:49`, `w J a l`), so prose and lists of times or amounts are never glued into new words.
  const rev = new Units(n);
  const units = rev.units;
  let invisibles = 0,
    fillers = 0,
    tokens = 0,
    longest = 0,
    run = 0,
    b64 = 0,
    digits = 0,
    escapes = 0,
    percent = false,
    longRun = false,
    letter = false,
    alphabet = true,
    ascii = true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x7f) {
      units[n - 1 - i] = c;
      const k = KIND[c]!;
      if (k & K_B64) {
        if (++b64 >= DECODE_LIMITS.minRun) longRun = true;
      } else b64 = 0;
      if (k & K_DIGIT) {
        // `0x41`; an entry of a code list is a run of 2-3 digits ended by `,`, `;`, a space or the end.
        if (c === 48 && (s.charCodeAt(i + 1) | 32) === 120) escapes++;
        digits++;
      } else {
        if ((digits === 2 || digits === 3) && (c === 44 || c === 32 || c === 59)) escapes++;
        digits = 0;
        if (k & K_ESCAPE) escapes++;
        else if (c === 37) percent = true;
      }
      if (k & K_FILLER) {
        fillers++;
        run = 0;
        continue;
      }
      if (run === 0) tokens++;
      if (++run > longest) longest = run;
      if (k & K_LETTER) letter = true;
      if (!(k & K_B64)) alphabet = false;
      continue;
    }
    // By code point: a surrogate pair stays in order.
    if (isHigh(c) && i + 1 < n && isLow(s.charCodeAt(i + 1))) units[n - 2 - i] = c;
    else if (isLow(c) && i > 0 && isHigh(s.charCodeAt(i - 1))) units[n - i] = c;
    else units[n - 1 - i] = c;
    ascii = false;
    b64 = 0;
    digits = 0;
    if (isFiller(c)) {
      if (invisible(c)) invisibles++;
      fillers++;
      run = 0;
      continue;
    }
    if (run === 0) tokens++;
    if (++run > longest) longest = run;
    alphabet = false;
  }
  if (digits === 2 || digits === 3) escapes++;
  rev.n = n;
  push(out, rev.text(), left);
  const hidden = invisibles > 0 || (tokens >= 4 && longest <= 4 && letter && alphabet);
  let squeezed = s;
  if (fillers > 0 && (hidden || !ascii)) {
    const kept = new Units(n);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (!isFiller(c)) kept.push(c);
    }
    squeezed = kept.text();
  }
  if (hidden && squeezed.length >= DECODE_LIMITS.minRun && squeezed.length < n) push(out, squeezed, left);
  // Fewer than 8 places where an escape could start: fewer than 8 escapes, nothing to read.
  const unescaped = escapes >= 8 ? unescape(s) : undefined;
  if (unescaped !== undefined) push(out, unescaped, left);
  if (!ascii) {
    const nfkc = s.normalize('NFKC');
    const fold = new Units(nfkc.length);
    for (let i = 0; i < nfkc.length; i++) {
      const c = nfkc.charCodeAt(i);
      if (!invisible(c)) fold.push(c);
    }
    const folded = fold.text();
    if (folded !== s && folded !== squeezed) push(out, folded, left);
  }
  return !longRun && !percent;
}

/**
 * True only if {@link decodedLayers} would decode nothing in `s`: its one reading would be `s`
 * reversed, with no layer decoded and no compressed stream inflated. Nothing past ASCII, no `%`, no
 * run of the base64 alphabet long enough to decode, fewer than 8 places where an escape could start,
 * and no text made only of short tokens of the base64 alphabet (which dropping its fillers would
 * join). It errs one way: escape starts are over-counted (every digit run) and any text of short
 * alphabet tokens is taken as hiding, so false says nothing. One pass with no allocation, a few
 * times cheaper than decoding (`readings` also builds the reversal): what settles an answer's
 * analysis budget before delivery for prose without decoding it first.
 */
export function nothingToDecode(s: string): boolean {
  let run = 0,
    escapes = 0,
    digits = false,
    // Every character a filler or in the base64 alphabet, and no run of it over 4: what `readings` could squeeze.
    shortTokens = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x7f || c === 37) return false;
    const k = KIND[c]!;
    if (k & K_B64) {
      if (++run >= DECODE_LIMITS.minRun) return false;
      if (run > 4) shortTokens = false;
    } else {
      run = 0;
      if (!(k & K_FILLER)) shortTokens = false;
    }
    if (k & K_DIGIT) {
      if (!digits && ++escapes >= 8) return false;
      digits = true;
    } else {
      digits = false;
      if (k & K_ESCAPE && ++escapes >= 8) return false;
    }
  }
  return !shortTokens || s.length < DECODE_LIMITS.minRun;
}

/** The `n` hex digits of `s` at `i` as a number, or -1 if they are not all hex digits. */
function hexAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k);
    if (!isHex(c)) return -1;
    v = v * 16 + hexVal(c);
  }
  return v;
}

/** Character escapes and code lists in `s` replaced by their characters; undefined if there are fewer than 8. */
function unescape(s: string): string | undefined {
  let count = 0;
  // Built from slices only where an escape is found: most values have none.
  let text = '',
    copied = 0;
  for (let i = 0; i < s.length;) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    let cp = -1,
      len = 0;
    if (c === 92 && next === 117 && (cp = hexAt(s, i + 2, 4)) >= 0) len = 6;
    else if (c === 92 && next === 120 && (cp = hexAt(s, i + 2, 2)) >= 0) len = 4;
    else if (c === 48 && (next === 120 || next === 88) && (cp = hexAt(s, i + 2, 2)) >= 0) len = 4;
    else if (c === 61 && (cp = hexAt(s, i + 1, 2)) >= 0) len = 3;
    else if (c === 38 && next === 35) {
      // &#65; or &#x41;
      const hex = s.charCodeAt(i + 2) === 120 || s.charCodeAt(i + 2) === 88;
      let k = i + (hex ? 3 : 2);
      let v = 0;
      const from = k;
      while (k < s.length && k - from < 7 && (hex ? isHex(s.charCodeAt(k)) : isDigit(s.charCodeAt(k)))) {
        v = v * (hex ? 16 : 10) + (hex ? hexVal(s.charCodeAt(k)) : s.charCodeAt(k) - 48);
        k++;
      }
      if (k > from && s.charCodeAt(k) === 59 && v <= 0x10ffff) {
        cp = v;
        len = k + 1 - i;
      }
    } else if (isDigit(c) && (i === 0 || !isDigit(s.charCodeAt(i - 1)))) {
      // One entry of a list of decimal character codes (`119,74,97`): printable ASCII, then a separator.
      let k = i,
        v = 0;
      while (k < s.length && k - i < 3 && isDigit(s.charCodeAt(k))) v = v * 10 + s.charCodeAt(k++) - 48;
      const sep = s.charCodeAt(k);
      if (
        v >= 32 &&
        v <= 126 &&
        !isDigit(sep) &&
        (k === s.length || sep === 44 || sep === 32 || sep === 59)
      ) {
        cp = v;
        len = k - i;
      }
    }
    if (len > 0) {
      text += s.slice(copied, i) + String.fromCodePoint(cp);
      count++;
      i += len;
      // The separator after an escape or a code in a list.
      while (i < s.length && (s.charCodeAt(i) === 44 || s.charCodeAt(i) === 32 || s.charCodeAt(i) === 59))
        i++;
      copied = i;
    } else i++;
  }
  if (count < 8) return undefined;
  // Lone surrogates read as U+FFFD, as the other readings (decoded from UTF-16) have them.
  const all = (text + s.slice(copied)) as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return all.isWellFormed() ? (all as unknown as string) : all.toWellFormed();
}

/** One layer: the value percent-decoded, and each long base64 / base32 / hex run in it decoded. */
function layer(s: string, out: string[], left: { chars: number }, flags: Flags): void {
  const pct = s.includes('%') ? fromPercent(s) : undefined;
  if (pct !== undefined && pct !== s) push(out, pct, left);
  for (let i = 0; i < s.length && left.chars > 0;) {
    if (!isB64(s.charCodeAt(i))) {
      i++;
      continue;
    }
    const b = i;
    while (i < s.length && isB64(s.charCodeAt(i))) i++;
    if (i - b < DECODE_LIMITS.minRun) continue;
    const run = s.slice(b, i);
    let allHex = true,
      all32 = true;
    for (let k = 0; k < run.length && (allHex || all32); k++) {
      const c = run.charCodeAt(k);
      allHex &&= isHex(c);
      all32 &&= isBase32(c) || c === 61;
    }
    const decoded =
      (allHex ? fromHex(run, flags) : undefined) ??
      (all32 ? fromBase32(run, flags) : undefined) ??
      fromBase64(run, flags);
    if (decoded !== undefined) push(out, decoded, left);
  }
}

function push(out: string[], s: string, left: { chars: number }): void {
  if (s.length > left.chars) return;
  left.chars -= s.length;
  out.push(s);
}

/**
 * The texts hidden in a value under common encodings: percent-encoding, base64 / base64url and hex
 * (runs of 16+ characters that decode to readable text), up to {@link DECODE_LIMITS}.levels deep
 * (base64 of hex of a secret is found). Linear and bounded: the output is at most
 * `outputFactor` × the input's length, so decoding never costs more than a constant times reading.
 * Short values seen more than once are memoized (bounded, see memo.ts), and the last long one: the
 * returned array must not be modified.
 * @example decodedLayers('QUtJQUlPU0ZPRE5ON0VYQU1QTEU=') // ['AKIAIOSFODNN7EXAMPLE']
 */
export function decodedLayers(value: string): Decoded {
  if (value.length <= 512) return memo.get(value);
  // A long value with something to decode is decoded twice in a row when an answer's budget is checked before it is delivered
  // and the answer analysed after (src/rules/engine.ts): the last one is kept for that.
  if (last?.value !== value) last = { value, decoded: decodeUncached(value) };
  return last.decoded;
}

let last: { readonly value: string; readonly decoded: Decoded } | undefined;

// Values repeat call after call (recipients, subjects, paths): short ones are decoded once (bounded);
// values seen once are not kept.
const memo = new Memo<Decoded>(4096, (value) => decodeUncached(value));

/**
 * {@link decodedLayers} without the memo, for values seen once (a trail joined with a call's value):
 * caching them would only evict the values that do repeat.
 */
export function decodeUncached(value: string): Decoded {
  const out: Decoded = [];
  const flags: Flags = {};
  const left = { chars: value.length * DECODE_LIMITS.outputFactor };
  // Level 0's other readings (reversed, fillers dropped, escapes, NFKC) are decoded like the value;
  // a value whose pass found no '%' and no long run has nothing to decode, nor has its reversal.
  let level = readings(value, out, left) ? out.slice(1) : [value, ...out];
  for (let depth = 0; depth < DECODE_LIMITS.levels && level.length > 0 && left.chars > 0; depth++) {
    const start = out.length;
    for (const s of level) layer(s, out, left, flags);
    level = out.slice(start);
  }
  if (flags.overflow) out.overflow = true;
  return out;
}
