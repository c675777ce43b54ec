import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal values always serialize the same way. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const src = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(src)
          .sort()
          .map((k) => [k, src[k]]),
      );
    }
    return v;
  });
}

const immutable = new WeakSet<object>();
const frozenDigests = new WeakMap<object, string>();

/** Freeze a value all the way down; its digest can then be remembered. */
export function deepFreeze<T>(value: T): T {
  const walk = (v: unknown) => {
    if (!v || typeof v !== 'object' || Object.isFrozen(v)) return;
    Object.freeze(v);
    for (const x of Object.values(v)) walk(x);
  };
  walk(value);
  if (value && typeof value === 'object') immutable.add(value);
  return value;
}

/** True for a value {@link deepFreeze} froze: nothing in it can change, so derived data can be cached. */
export const isImmutable = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && immutable.has(value);

/**
 * Short hex SHA-256 of the canonical JSON of a value. The digest of a {@link deepFreeze}d value is
 * remembered (replay shares one frozen intent across the sessions that have it).
 */
export function digest(value: unknown, length = 16): string {
  const cacheable = typeof value === 'object' && value !== null && immutable.has(value) && length === 16;
  if (cacheable) {
    const known = frozenDigests.get(value);
    if (known !== undefined) return known;
  }
  const d = createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
  if (cacheable) frozenDigests.set(value, d);
  return d;
}
