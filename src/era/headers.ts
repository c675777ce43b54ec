import { SPEC_CODES } from './keys.js';
import { refusal, type EraRefusal } from './refusal.js';

/**
 * Methods whose `Mcp-Name` header mirrors a body field (basic/transports/streamable-http.mdx, "Standard
 * Request Headers"; the Tasks extension's HTTP binding, SEP-2663, adds `params.taskId` for its methods).
 */
const NAME_SOURCE: Readonly<Record<string, 'name' | 'uri' | 'taskId'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

const PREFIX = '=?base64?';
const SUFFIX = '?=';

/** RFC 9110 field-value characters: visible ASCII, space, horizontal tab. */
const isFieldValue = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 9 && (c < 32 || c > 126)) return false;
  }
  return true;
};

const isBase64 = (s: string): boolean => {
  if (s.length % 4 !== 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    if (alnum || c === 43 || c === 47) continue;
    if (c === 61 && i >= s.length - 2 && (i === s.length - 1 || s.charCodeAt(s.length - 1) === 61)) continue;
    return false;
  }
  return true;
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decode a header value that may use the Base64 sentinel `=?base64?…?=` (streamable-http.mdx, "Value
 * Encoding"): plain values are returned as they are, an encoded one decoded strictly (canonical padding,
 * valid UTF-8). Undefined when the value is malformed: invalid characters, bad Base64, bad UTF-8.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!isFieldValue(value)) return undefined;
  if (!(value.startsWith(PREFIX) && value.endsWith(SUFFIX) && value.length >= PREFIX.length + SUFFIX.length))
    return value;
  const b64 = value.slice(PREFIX.length, value.length - SUFFIX.length);
  if (!isBase64(b64)) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.toString('base64') !== b64) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

const mismatch = (message: string) => refusal(SPEC_CODES.HEADER_MISMATCH, 'ERR_HEADER_MISMATCH', message);

/**
 * Check the standard request headers of a modern Streamable HTTP POST against its body
 * (streamable-http.mdx, "Server Validation"): `Mcp-Method` is required on every request and must equal
 * `method`; `Mcp-Name` is required on `tools/call`, `prompts/get` and `resources/read` and must equal
 * `params.name` / `params.uri` after sentinel decoding. Any failure is -32020 HeaderMismatch with status
 * 400, answered before a rule runs — so no rule ever decides on a header the body contradicts.
 * `Mcp-Param-*` headers are forwarded untouched (intermediaries "MUST forward" unrecognized ones); the
 * upstream server, which knows its tools' `x-mcp-header` declarations, validates them.
 *
 * @param header reads one request header by lower-case name (undefined when absent)
 */
export function checkRequestHeaders(
  message: { readonly method: string; readonly params?: unknown },
  header: (name: string) => string | undefined,
): EraRefusal | undefined {
  const method = header('mcp-method');
  if (method === undefined) return mismatch('the Mcp-Method header is required');
  if (method !== message.method)
    return mismatch(
      `Mcp-Method header ${JSON.stringify(method)} does not match the body's ${JSON.stringify(message.method)}`,
    );
  const source = Object.hasOwn(NAME_SOURCE, message.method) ? NAME_SOURCE[message.method] : undefined;
  if (!source) return undefined;
  const params = message.params as Record<string, unknown> | undefined;
  const body = typeof params === 'object' && params !== null ? params[source] : undefined;
  const raw = header('mcp-name');
  if (raw === undefined) return mismatch(`the Mcp-Name header is required on ${message.method}`);
  const name = decodeHeaderValue(raw);
  if (name === undefined) return mismatch('the Mcp-Name header is malformed (characters or Base64 encoding)');
  if (typeof body !== 'string' || name !== body)
    return mismatch(
      `Mcp-Name header ${JSON.stringify(name)} does not match the body's params.${source} ${JSON.stringify(body ?? null)}`,
    );
  return undefined;
}
