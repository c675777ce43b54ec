import type { IncomingMessage, ServerResponse } from 'node:http';
import { IntentGuardError, type ErrorCode } from '../errors.js';

/** The Content-Security-Policy of every console answer: own scripts and styles only, nothing inline. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts, which the
  // CSRF check must refuse.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** HTTP status for each error code the console answers with. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_CONSOLE_AUTH: 401,
  ERR_CONSOLE_ROLE: 403,
  ERR_CONSOLE_CSRF: 403,
  ERR_CONSOLE_SELF_APPROVAL: 403,
  ERR_CONSOLE_REQUEST: 400,
  ERR_INTENT_INVALID: 400,
  ERR_CONTENT_TYPE: 415,
  ERR_HOST: 421,
  ERR_NOT_FOUND: 404,
  ERR_APPROVAL_NOT_FOUND: 404,
  ERR_APPROVAL_DONE: 409,
  ERR_FILE: 400,
  ERR_RULE_DUPLICATE_ID: 400,
  ERR_RULE_EXPRESSION: 400,
  ERR_RULE_OVERRIDE: 400,
  ERR_RULE_PARSE: 400,
  ERR_RULE_SCHEMA: 400,
  ERR_RULE_UNKNOWN_FIELD: 400,
  ERR_RULE_UNKNOWN_FUNCTION: 400,
  ERR_RULE_UNSAFE_REGEX: 400,
};

/** The status for an error: by its code (coded plain errors from the store included), else 500. */
export const statusOf = (e: unknown): number => STATUS[(e as { code?: string })?.code as ErrorCode] ?? 500;

/** Send a body with the console's security headers. */
export function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...headers });
  res.end(body);
}

export const sendJson = (
  res: ServerResponse,
  status: number,
  value: unknown,
  headers?: Record<string, string>,
) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);

export const sendHtml = (
  res: ServerResponse,
  status: number,
  page: string,
  headers?: Record<string, string | string[]>,
) => send(res, status, 'text/html; charset=utf-8', page, headers);

export const redirect = (
  res: ServerResponse,
  to: string,
  headers: Record<string, string | string[]> = {},
) => {
  res.writeHead(303, { ...SECURITY_HEADERS, location: to, ...headers });
  res.end();
};

export const bad = (message: string) => new IntentGuardError('ERR_CONSOLE_REQUEST', message);

const MAX_BODY = 64 * 1024;

/** A request body: JSON (`application/json`) or a form (`application/x-www-form-urlencoded`), at most 64 KiB. */
export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded')
    throw new IntentGuardError(
      'ERR_CONTENT_TYPE',
      'the body must be application/json or application/x-www-form-urlencoded',
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw bad(`the body is larger than ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw bad(`the body is not a JSON object: ${(e as Error).message}`);
  }
}

/** One cookie's value from the Cookie header. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The bearer token of an Authorization header, if any. */
export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^bearer\s+(\S+)$/i.exec(h.trim());
  if (!m) throw new IntentGuardError('ERR_CONSOLE_AUTH', 'the Authorization header is not "Bearer TOKEN"');
  return m[1];
}
