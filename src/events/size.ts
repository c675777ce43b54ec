/** Nesting deeper than this is refused (deeply nested JSON is a denial-of-service shape). */
export const MAX_DEPTH = 256;

export class SizeError extends Error {}

/**
 * The UTF-8 size of `value` serialized as JSON, computed by walking it (no string is built), stopping
 * early once it exceeds `limit`. Exact for values whose strings need no escape sequences; escapes
 * (quotes, backslashes, control characters) are not counted. Throws {@link SizeError} for values JSON
 * cannot represent faithfully (bigint, cycles, nesting deeper than {@link MAX_DEPTH}).
 * @example jsonSize({ a: 'é' }, 1024) // 10, as Buffer.byteLength(JSON.stringify({ a: 'é' }))
 */
export function jsonSize(value: unknown, limit = Infinity): number {
  return walk(value, 0, limit, 0);
}

/** UTF-8 length; short strings are counted in JS (cheaper than crossing into the native call). */
function utf8Length(s: string): number {
  if (s.length > 32) return Buffer.byteLength(s);
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

/** Length of a number as JSON writes it; small non-negative integers without building the string. */
function numberLength(v: number): number {
  if (v >= 0 && v < 1e6 && Number.isInteger(v))
    return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10_000 ? 4 : v < 100_000 ? 5 : 6;
  return Number.isFinite(v) ? String(v).length : 4;
}

function walk(v: unknown, depth: number, limit: number, acc: number): number {
  if (acc > limit) return acc;
  switch (typeof v) {
    case 'string':
      return acc + utf8Length(v) + 2;
    case 'number':
      return acc + numberLength(v);
    case 'boolean':
      return acc + (v ? 4 : 5);
    case 'bigint':
      throw new SizeError('bigint values cannot be serialized as JSON');
    case 'object':
      return v === null ? acc + 4 : container(v, depth, limit, acc);
    default:
      return acc;
  }
}

/** An object or array. Strings and numbers inside are counted in the loop, without a call each. */
function container(v: object, depth: number, limit: number, acc: number): number {
  if (depth >= MAX_DEPTH) throw new SizeError(`nesting deeper than ${MAX_DEPTH} levels (or a cycle)`);
  if (Array.isArray(v)) {
    acc += 2 + Math.max(0, v.length - 1);
    for (let i = 0; i < v.length && acc <= limit; i++) {
      const item: unknown = v[i];
      if (typeof item === 'string') acc += utf8Length(item) + 2;
      else if (typeof item === 'number') acc += numberLength(item);
      else
        acc =
          item === undefined || typeof item === 'function' || typeof item === 'symbol'
            ? acc + 4
            : walk(item, depth + 1, limit, acc);
    }
    return acc;
  }
  // Plain objects (the usual case) skip the toJSON lookup, which is slow on objects of many shapes;
  // an own toJSON is caught in the loop below.
  if (
    Object.getPrototypeOf(v) !== Object.prototype &&
    typeof (v as { toJSON?: unknown }).toJSON === 'function'
  )
    return acc + stringified(v);
  const start = acc;
  acc += 2;
  let first = true;
  // for-in: the enum cache, no key array per object. It would also count inherited enumerable keys,
  // which JSON leaves out: an over-count, on the safe side of the limit.
  for (const key in v) {
    const item = (v as Record<string, unknown>)[key];
    if (typeof item === 'string') acc += utf8Length(key) + (first ? 3 : 4) + utf8Length(item) + 2;
    else if (typeof item === 'number') acc += utf8Length(key) + (first ? 3 : 4) + numberLength(item);
    else if (item === undefined || typeof item === 'symbol') continue;
    else if (typeof item === 'function') {
      if (key === 'toJSON') return start + stringified(v);
      continue;
    } else {
      acc = walk(item, depth + 1, limit, acc + utf8Length(key) + (first ? 3 : 4));
      if (acc > limit) return acc;
    }
    first = false;
  }
  return acc;
}

function stringified(v: unknown): number {
  const text = JSON.stringify(v);
  return text === undefined ? 4 : Buffer.byteLength(text);
}

/** Throw {@link SizeError} when `value` nests deeper than {@link MAX_DEPTH} (strings are not looked at). */
export function checkDepth(value: unknown, depth = 0): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_DEPTH) throw new SizeError(`nesting deeper than ${MAX_DEPTH} levels (or a cycle)`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkDepth(value[i], depth + 1);
    return;
  }
  for (const key in value) checkDepth((value as Record<string, unknown>)[key], depth + 1);
}
