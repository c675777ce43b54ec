import type { ErrorCode } from '../errors.js';

/**
 * Why a message is refused before any rule sees it: the JSON-RPC code the specification names, the HTTP
 * status it requires, intentguard's stable `data.code`, and a message. Pure data; the carrier answers it.
 */
export interface EraRefusal {
  readonly rpc: number;
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Build a refusal (status 400 unless given). */
export const refusal = (
  rpc: number,
  code: ErrorCode,
  message: string,
  data?: Record<string, unknown>,
  status = 400,
): EraRefusal => ({ rpc, status, code, message: `intentguard: ${message}`, ...(data && { data }) });

/** `data.code`s of the refusals the specification answers with HTTP 400 (basic/index.mdx, streamable-http.mdx). */
const HTTP_400 = new Set<unknown>([
  'ERR_HEADER_MISMATCH',
  'ERR_ELICITATION_UNSUPPORTED',
  'ERR_PROTOCOL_VERSION',
  'ERR_PROTOCOL_VERSION_CHANGED',
  'ERR_META_MISSING',
]);

/**
 * The HTTP status of intentguard's JSON-RPC answer to one request: 400 when it is one of the era's own
 * refusals above (a header contradicting the body, a missing capability or `_meta` field, a protocol
 * version not spoken here or not the session's), else 200.
 * @example httpStatusOf({ error: { code: -32020, data: { code: 'ERR_HEADER_MISMATCH' } } }) // 400
 */
export function httpStatusOf(answer: unknown): number {
  const data = (answer as { error?: { data?: { code?: unknown } } } | null)?.error?.data;
  return HTTP_400.has(data?.code) ? 400 : 200;
}
