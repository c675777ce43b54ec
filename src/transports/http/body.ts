import type { IncomingMessage } from 'node:http';
import { RPC_CODES } from '../../errors.js';
import { readBody } from '../../carrier/read-body.js';
import { jsonContentTypeProblem } from './media-type.js';
import type { Refusal } from './refusals.js';
import { distinctHeaders } from './distinct.js';

/**
 * A POST body must be JSON: parsed as a media type, so `text/plain; x=application/json` (which a browser
 * sends cross-site without a preflight) is not, and neither is a second Content-Type header (415).
 */
function contentTypeRefusal(req: IncomingMessage): Refusal | undefined {
  const types = distinctHeaders(req.rawHeaders, CONTENT_TYPE)['content-type'] ?? [];
  const problem = types.length > 1 ? 'more than one Content-Type header' : typeProblem(types[0]);
  return problem === undefined
    ? undefined
    : { status: 415, rpc: -32600, message: `intentguard: ${problem}`, code: 'ERR_CONTENT_TYPE' };
}

const CONTENT_TYPE = ['content-type'];

/**
 * A client sends the same Content-Type on every request: its verdict is kept (a bounded memo, as the
 * front door keeps Host verdicts: a flood of distinct values empties it rather than growing it).
 */
const verdicts = new Map<string, string | undefined>();
const typeProblem = (value: string | undefined): string | undefined => {
  if (value === undefined) return jsonContentTypeProblem(value);
  if (verdicts.has(value)) return verdicts.get(value);
  if (verdicts.size >= 64) verdicts.clear();
  const problem = jsonContentTypeProblem(value);
  verdicts.set(value, problem);
  return problem;
};

/** A POST body read and parsed, or why not (415 type, 413 size, 400 syntax). */
export type JsonBody =
  | {
      readonly body: unknown;
      /** The body as it came (decoded as UTF-8) and its size on the wire: forwarded as it is when allowed. */
      readonly text: string;
      readonly bytes: number;
      readonly refusal?: undefined;
    }
  | { readonly refusal: Refusal };

/** Read a client's POST body as JSON, at most `max` bytes. */
export async function readJsonBody(req: IncomingMessage, max: number): Promise<JsonBody> {
  const wrongType = contentTypeRefusal(req);
  if (wrongType) {
    req.resume();
    return { refusal: wrongType };
  }
  const body = await readBody(req, max);
  if (body === 'too-large')
    return {
      refusal: {
        status: 413,
        rpc: RPC_CODES.REFUSED,
        message: `intentguard: body exceeds ${max} bytes`,
        code: 'ERR_MESSAGE_TOO_LARGE',
      },
    };
  const text = body.toString('utf8');
  try {
    return { body: JSON.parse(text) as unknown, text, bytes: body.length };
  } catch (e) {
    return {
      refusal: {
        status: 400,
        rpc: -32700,
        message: `intentguard: parse error: ${(e as Error).message}`,
        code: 'ERR_JSONRPC_INVALID',
      },
    };
  }
}
