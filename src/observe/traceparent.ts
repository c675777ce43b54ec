/** A W3C `traceparent` as read: the caller's trace and span, and whether it was sampled. */
export interface ParentContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

const HEX = /^[0-9a-f]+$/;
const allZero = (s: string) => /^0+$/.test(s);

/**
 * Parse a W3C Trace Context `traceparent` (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`);
 * undefined for anything else (a wrong length, upper case, the all-zero ids, version `ff`). A later
 * version's extra fields are ignored, as the specification asks. Fixed-length slices: no backtracking.
 * @example parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
 */
export function parseTraceparent(value: unknown): ParentContext | undefined {
  if (typeof value !== 'string' || value.length < 55 || value.length > 512) return undefined;
  const v = value.trim();
  const version = v.slice(0, 2);
  if (!HEX.test(version) || version === 'ff' || v[2] !== '-' || v[35] !== '-' || v[52] !== '-')
    return undefined;
  if (version === '00' ? v.length !== 55 : v.length > 55 && v[55] !== '-') return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return undefined;
  if (allZero(traceId) || allZero(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}
