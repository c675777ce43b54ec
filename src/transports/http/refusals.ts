import type { ServerResponse } from 'node:http';
import { RPC_CODES } from '../../errors.js';
import { errorAnswer } from '../../jsonrpc/message.js';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import type { SessionStatus } from '../../model/session.js';

/**
 * Why an HTTP request is turned away before anything of it is forwarded: the HTTP status and the
 * JSON-RPC error (null id) that says why, with its stable `ERR_*` code.
 *
 * Every HTTP path (Streamable HTTP to a server, in front of a stdio server, legacy HTTP+SSE) checks a
 * request with the validators below, each returning a refusal or nothing, and sends the first refusal
 * with {@link refuse} — the shape of the MCP SDK's `webStandardStreamableHttp.ts` (`validateSession`,
 * `validateProtocolVersion`: a `Response` or `undefined`).
 */
export interface Refusal {
  /** The HTTP status (400, 403, 404, 409, 413, 415, 503). */
  readonly status: number;
  /** The JSON-RPC error code of the body. */
  readonly rpc: number;
  /** The error message (`intentguard: …`). */
  readonly message: string;
  /** The stable code in `error.data.code` (src/errors.ts, README's error table). */
  readonly code: string;
  /** Extra response headers (`www-authenticate`, `retry-after`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Answer an HTTP request with a JSON body (nothing when the response has already started). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  // Its length given: one write, no chunked framing, and the client knows when the body is whole.
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    })
    .end(text);
}

/** Send a refusal: its status, headers and JSON-RPC error body. */
export function refuse(res: ServerResponse, r: Refusal): void {
  sendJson(res, r.status, errorAnswer(null, r.rpc, r.message, { code: r.code }), r.headers);
}

/** The first refusal among already-run validators, or nothing (validators are cheap and pure). */
export const firstRefusal = (...checks: readonly (Refusal | undefined)[]): Refusal | undefined =>
  checks.find((c) => c !== undefined);

const refusal = (
  status: number,
  rpc: number,
  message: string,
  code: string,
  headers?: Record<string, string>,
): Refusal => ({ status, rpc, message, code, ...(headers && { headers }) });

/** A request named a session intentguard does not carry (never opened, or ended). */
export const unknownSession = (found: boolean): Refusal | undefined =>
  found ? undefined : refusal(404, -32001, 'intentguard: unknown or ended session', 'ERR_SESSION_CLOSED');

/**
 * A session is bound to the agent identity that opened it: another verified identity may not use it
 * (`challenge`: the `WWW-Authenticate` value to send with the 403, when the path speaks OAuth).
 */
export const otherAgent = (
  owner: string | undefined,
  identity: Identity | undefined,
  challenge?: string,
): Refusal | undefined =>
  identity && owner !== identity.sub
    ? refusal(
        403,
        -32001,
        'intentguard: this session belongs to another agent identity',
        'ERR_GRANT_CLAIM',
        challenge === undefined ? undefined : { 'www-authenticate': challenge },
      )
    : undefined;

/** No approved intent for this request (no grant carrying one, no `--intent`): nothing can be decided. */
export const noIntent = (intent: Intent | undefined): Refusal | undefined =>
  intent
    ? undefined
    : refusal(
        403,
        -32001,
        'intentguard: no approved intent (configure grants or --intent)',
        'ERR_GRANT_INTENT',
      );

/** A session that is halted or closed takes nothing more. */
export const notOpen = (status: SessionStatus): Refusal | undefined =>
  status === 'open'
    ? undefined
    : refusal(
        404,
        RPC_CODES.HALTED,
        `intentguard: session ${status}`,
        status === 'halted' ? 'ERR_SESSION_HALTED' : 'ERR_SESSION_CLOSED',
      );

/** A JSON-RPC batch with no element (JSON-RPC 2.0: an invalid request). */
export const emptyBatch = (body: unknown): Refusal | undefined =>
  Array.isArray(body) && body.length === 0
    ? refusal(400, -32600, 'intentguard: empty batch', 'ERR_JSONRPC_INVALID')
    : undefined;

/** GET and DELETE belong to a session: without an Mcp-Session-Id there is none to act on. */
export const needsSession = (method: string | undefined, found: boolean): Refusal | undefined =>
  found
    ? undefined
    : refusal(400, -32600, `intentguard: ${method} needs an Mcp-Session-Id`, 'ERR_SESSION_CLOSED');

/**
 * A POST without a session id must open one with `initialize`; anything else is refused (400) before a
 * session, its state or its process exists.
 */
export const startsSession = (body: unknown): Refusal | undefined =>
  ((Array.isArray(body) ? body[0] : body) as { method?: unknown } | null)?.method === 'initialize'
    ? undefined
    : refusal(
        400,
        -32600,
        'intentguard: no Mcp-Session-Id: the first request of a session must be initialize',
        'ERR_SESSION_CLOSED',
      );

/** A new session refused because the proxy carries its maximum already: 503, try again later. */
export const tooManySessions = (open: number, max: number): Refusal | undefined =>
  open < max
    ? undefined
    : refusal(
        503,
        -32001,
        `intentguard: ERR_TOO_MANY_SESSIONS: ${max} sessions are open already; try again later`,
        'ERR_TOO_MANY_SESSIONS',
        { 'retry-after': '5' },
      );

/** An upstream answer that is not a stream and exceeds the size limit: not passed on (502). */
export const upstreamTooLarge = (max: number): Refusal =>
  refusal(
    502,
    RPC_CODES.REFUSED,
    `intentguard: upstream answer exceeds ${max} bytes`,
    'ERR_MESSAGE_TOO_LARGE',
  );

/** A quoted-string of an HTTP auth parameter (RFC 9110): backslash and quote escaped, line breaks folded. */
export const quoted = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ')}"`;
