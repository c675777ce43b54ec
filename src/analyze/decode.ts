import { asciiTable, isAlnum, isDigit, trimEnd } from './scan.js';

/** Bounds on decoding one value: nesting levels, shortest run worth decoding, and total output. */
const DECODE_LIMITS = { levels: 3, minRun: 16, outputFactor: 2 } as const;

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
function fromBase64(run: string): string | undefined {
  const body = trimEnd(run, (c) => c === 61);
  if (body.length % 4 === 1 || body.includes('=')) return undefined;
  // Node's base64 decoder reads both alphabets (base64url's `-` and `_` too). A prefix that is not text
  // rules the whole run out before decoding all of it.
  if (body.length > 64 && asText(Buffer.from(body.slice(0, 64), 'base64')) === undefined) return undefined;
  return asText(Buffer.from(body, 'base64'));
}

function fromHex(run: string): string | undefined {
  if (run.length % 2 !== 0) return undefined;
  if (run.length > 64 && fromHex(run.slice(0, 64)) === undefined) return undefined;
  const bytes = new Uint8Array(run.length / 2);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = hexVal(run.charCodeAt(2 * i)) * 16 + hexVal(run.charCodeAt(2 * i + 1));
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

/** One layer: the value percent-decoded, and each long base64 / hex run in it decoded. */
function layer(s: string, out: string[], left: { chars: number }): void {
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
    let allHex = true;
    for (let k = 0; k < run.length && allHex; k++) allHex = isHex(run.charCodeAt(k));
    const decoded = (allHex ? fromHex(run) : undefined) ?? fromBase64(run);
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
 * Short values are memoized (bounded): the returned array must not be modified.
 * @example decodedLayers('QUtJQUlPU0ZPRE5ON0VYQU1QTEU=') // ['AKIAIOSFODNN7EXAMPLE']
 */
export function decodedLayers(value: string): readonly string[] {
  if (!mayDecode(value)) return NONE;
  if (value.length <= 512) {
    let hit = cache.get(value);
    if (!hit) {
      hit = decodeUncached(value);
      if (cache.size >= 4096) cache.clear();
      cache.set(value, hit);
    }
    return hit;
  }
  return decodeUncached(value);
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * Can the value decode to anything: a `%`, or a run of {@link DECODE_LIMITS}.minRun base64 characters?
 * One scan and no allocation, so the many values that cannot (prose, names, paths) are neither decoded
 * nor memoized.
 */
function mayDecode(value: string): boolean {
  if (value.length < DECODE_LIMITS.minRun) return value.includes('%');
  let run = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 37) return true;
    if (isB64(c)) {
      if (++run >= DECODE_LIMITS.minRun) return true;
    } else run = 0;
  }
  return false;
}

// Values repeat call after call (recipients, subjects, paths): short ones are decoded once (bounded).
const cache = new Map<string, readonly string[]>();

/**
 * {@link decodedLayers} without the memo, for values seen once (a trail joined with a call's value):
 * caching them would only evict the values that do repeat.
 */
export function decodeUncached(value: string): readonly string[] {
  if (!mayDecode(value)) return NONE;
  const out: string[] = [];
  const left = { chars: value.length * DECODE_LIMITS.outputFactor };
  let level = [value];
  for (let depth = 0; depth < DECODE_LIMITS.levels && level.length > 0 && left.chars > 0; depth++) {
    const start = out.length;
    for (const s of level) layer(s, out, left);
    level = out.slice(start);
  }
  return out;
}
