/**
 * W3C trace context carried in a request's `_meta` (SEP-414; basic/index.mdx, "OpenTelemetry trace
 * context"). intentguard records it on the event and passes the message on unchanged: it never rewrites
 * these keys.
 */
export interface TraceContext {
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly baggage?: string;
  /** False when `traceparent` is present and not of the W3C shape `vv-<32 hex>-<16 hex>-<2 hex>`. */
  readonly valid: boolean;
}

/** Longest value recorded per key (W3C tracestate allows 512 characters; baggage 8192 bytes). */
const MAX_RECORDED = 8192;

const isHex = (s: string, from: number, to: number): boolean => {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
};

const allZero = (s: string, from: number, to: number): boolean => {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
};

/** True for a W3C `traceparent` (version 00 exactly 55 characters; a later version may append fields). */
export function isTraceparent(s: string): boolean {
  if (s.length < 55 || s[2] !== '-' || s[35] !== '-' || s[52] !== '-') return false;
  if (!isHex(s, 0, 2) || s.startsWith('ff') || !isHex(s, 3, 35) || !isHex(s, 36, 52) || !isHex(s, 53, 55))
    return false;
  if (allZero(s, 3, 35) || allZero(s, 36, 52)) return false;
  return s.startsWith('00') ? s.length === 55 : s.length === 55 || s[55] === '-';
}

/**
 * The trace context of a `_meta` object, or undefined when it carries none. Values that are not strings
 * are not trace context and are ignored; long values are cut for the record only.
 *
 * @example
 * traceContextOf({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01' })
 * // → { traceparent: '00-0af7…-01', valid: true }
 */
export function traceContextOf(
  meta: Readonly<Record<string, unknown>> | undefined,
): TraceContext | undefined {
  if (!meta) return undefined;
  const pick = (k: string) => {
    const v = meta[k];
    return typeof v === 'string' ? v.slice(0, MAX_RECORDED) : undefined;
  };
  const traceparent = pick('traceparent');
  const tracestate = pick('tracestate');
  const baggage = pick('baggage');
  if (traceparent === undefined && tracestate === undefined && baggage === undefined) return undefined;
  return {
    ...(traceparent !== undefined && { traceparent }),
    ...(tracestate !== undefined && { tracestate }),
    ...(baggage !== undefined && { baggage }),
    valid: traceparent === undefined || isTraceparent(traceparent),
  };
}
