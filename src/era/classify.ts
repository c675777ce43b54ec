import { META, MODERN_VERSIONS, SPEC_CODES } from './keys.js';
import { refusal, type EraRefusal } from './refusal.js';
import { traceContextOf, type TraceContext } from './trace.js';

/** Which protocol era a message belongs to: `legacy` (initialize handshake, ≤ 2025-11-25) or `modern`. */
type Era = 'legacy' | 'modern';

/**
 * What one request says about itself. Everything under `unverified` is self-reported by the client
 * (basic/index.mdx: clientInfo "SHOULD NOT" be relied on for security decisions) and is recorded as such.
 */
export interface RequestEra {
  readonly era: Era;
  /** The `_meta` protocol version of a modern request. */
  readonly version?: string;
  readonly unverified: {
    readonly clientInfo?: unknown;
    readonly clientCapabilities?: Readonly<Record<string, unknown>>;
    readonly logLevel?: unknown;
  };
  readonly trace?: TraceContext;
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a request without `_meta` or headers says of itself: it is legacy (shared, never changed). */
const LEGACY: RequestEra = Object.freeze({ era: 'legacy', unverified: Object.freeze({}) });

/** The `params._meta` object of a message, if it has one. */
const metaOf = (message: unknown): Record<string, unknown> | undefined => {
  if (!isPlain(message) || !isPlain(message.params)) return undefined;
  const meta = message.params._meta;
  return isPlain(meta) ? meta : undefined;
};

/**
 * Decide the era of one client message, per request (basic/index.mdx "_meta", and
 * basic/transports/streamable-http.mdx "Protocol Version Header"). The body is primary: a request is
 * modern when its `_meta` carries `io.modelcontextprotocol/protocolVersion`. Refused (never forwarded):
 * - a version in `_meta` that is not a string, or a modern request without `clientCapabilities`
 *   (-32602, "a request missing any required field is malformed");
 * - an `MCP-Protocol-Version` header that disagrees with the body (-32020 HeaderMismatch);
 * - a header naming a modern version on a request whose body has no version (-32602);
 * - a version intentguard does not implement (-32022 UnsupportedProtocolVersion, `data.supported`).
 *
 * @param headerVersion the `MCP-Protocol-Version` header over HTTP; undefined on other transports.
 */
export function classifyRequest(message: unknown, headerVersion?: string): RequestEra | EraRefusal {
  const meta = metaOf(message);
  // A message without `_meta` (every message of a 2025-11-25 session): legacy, with nothing to record.
  if (!meta && headerVersion === undefined) return LEGACY;
  const isRequest = isPlain(message) && 'id' in message && typeof message.method === 'string';
  const trace = traceContextOf(meta);
  const base = { ...(trace && { trace }) };
  if (!meta || !(META.protocolVersion in meta)) {
    if (isRequest && headerVersion !== undefined && MODERN_VERSIONS.includes(headerVersion))
      return refusal(
        SPEC_CODES.INVALID_PARAMS,
        'ERR_META_MISSING',
        `MCP-Protocol-Version ${headerVersion} but the request has no _meta["${META.protocolVersion}"]`,
      );
    return { era: 'legacy', unverified: {}, ...base };
  }
  const version = meta[META.protocolVersion];
  if (typeof version !== 'string')
    return refusal(
      SPEC_CODES.INVALID_PARAMS,
      'ERR_META_MISSING',
      `_meta["${META.protocolVersion}"] is not a string`,
    );
  if (headerVersion !== undefined && headerVersion !== version)
    return refusal(
      SPEC_CODES.HEADER_MISMATCH,
      'ERR_HEADER_MISMATCH',
      `MCP-Protocol-Version header ${JSON.stringify(headerVersion)} does not match the body's ${JSON.stringify(version)}`,
    );
  if (!MODERN_VERSIONS.includes(version))
    return refusal(
      SPEC_CODES.UNSUPPORTED_PROTOCOL_VERSION,
      'ERR_PROTOCOL_VERSION',
      `protocol version ${JSON.stringify(version)} is not supported`,
      { supported: [...MODERN_VERSIONS], requested: version },
    );
  const caps = meta[META.clientCapabilities];
  if (isRequest && !isPlain(caps))
    return refusal(
      SPEC_CODES.INVALID_PARAMS,
      'ERR_META_MISSING',
      `a ${version} request needs _meta["${META.clientCapabilities}"] (an object)`,
    );
  return {
    era: 'modern',
    version,
    unverified: {
      ...(META.clientInfo in meta && { clientInfo: meta[META.clientInfo] }),
      ...(isPlain(caps) && { clientCapabilities: caps }),
      ...(META.logLevel in meta && { logLevel: meta[META.logLevel] }),
    },
    ...base,
  };
}

/** True when {@link classifyRequest} refused. */
export const isEraRefusal = (v: RequestEra | EraRefusal): v is EraRefusal => 'rpc' in v;

/**
 * A session keeps the protocol version it started with. A later request naming another version (or
 * the other era) is refused with -32022 naming the session's version as the one supported, and
 * `data.code` ERR_PROTOCOL_VERSION_CHANGED: rules were chosen for one revision's semantics, and a client
 * switching mid-session is either confused or probing for the weaker of two paths.
 *
 * @param first the session's first version (`legacy` for a session opened with initialize)
 */
export function checkVersionPinned(first: string, now: string): EraRefusal | undefined {
  if (first === now) return undefined;
  return refusal(
    SPEC_CODES.UNSUPPORTED_PROTOCOL_VERSION,
    'ERR_PROTOCOL_VERSION_CHANGED',
    `this session started with protocol ${JSON.stringify(first)}; a request for ${JSON.stringify(now)} is refused`,
    { supported: [first], requested: now },
  );
}

/** True for a message whose `_meta` names a protocol version intentguard implements as modern. */
export function isModernRequest(message: unknown): boolean {
  const v = metaOf(message)?.[META.protocolVersion];
  return typeof v === 'string' && MODERN_VERSIONS.includes(v);
}

/**
 * True for a POST without a session that the 2026-07-28 path must decide, well-formed or not: a request
 * (not a batch) whose `_meta` names a protocol version — any value, so an unsupported one is answered
 * -32022 with the versions supported, and an `initialize` so marked gets the server's own answer — or,
 * other than an `initialize`, whose `MCP-Protocol-Version` header names a modern version, so a request
 * missing its `_meta` is answered -32602 (basic/index.mdx) rather than told to initialize.
 *
 * @param headerVersion the `MCP-Protocol-Version` header, when the request has one
 */
export function claimsModern(message: unknown, headerVersion?: string): boolean {
  if (!isPlain(message) || !('id' in message) || typeof message.method !== 'string') return false;
  const meta = metaOf(message);
  if (meta && META.protocolVersion in meta) return true;
  return (
    message.method !== 'initialize' && headerVersion !== undefined && MODERN_VERSIONS.includes(headerVersion)
  );
}
