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
 * undefined for anything else (a wrong length, upper case, surrounding blanks, the all-zero ids,
 * version `ff`, more than 512 characters). A later version's extra fields are ignored, as the
 * specification asks. Fixed-length slices: no backtracking. The one parser of intentguard: the record
 * (`_meta` trace context), the spans and the header sent upstream all read it.
 * @example parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
 */
export function parseTraceparent(value: unknown): ParentContext | undefined {
  if (typeof value !== 'string' || value.length < 55 || value.length > 512) return undefined;
  const version = value.slice(0, 2);
  if (!HEX.test(version) || version === 'ff' || value[2] !== '-' || value[35] !== '-' || value[52] !== '-')
    return undefined;
  if (version === '00' ? value.length !== 55 : value.length > 55 && value[55] !== '-') return undefined;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return undefined;
  if (allZero(traceId) || allZero(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
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
    valid: traceparent === undefined || parseTraceparent(traceparent) !== undefined,
  };
}
