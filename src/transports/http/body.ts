import type { IncomingMessage } from 'node:http';
import { RPC_CODES } from '../../errors.js';
import { jsonContentTypeProblem } from './media-type.js';
import type { Refusal } from './refusals.js';

/**
 * Read a body of at most `max` bytes. Beyond it: 'too-large', after reading the rest (a client's
 * request, to answer it properly) or at once, dropping the connection (`stopEarly`: an upstream's answer).
 */
export function readBody(
  req: IncomingMessage,
  max: number,
  stopEarly = false,
): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (!over) {
        over = true;
        chunks.length = 0;
        if (stopEarly) {
          req.destroy();
          resolve('too-large');
        }
      }
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', (e) => (over ? resolve('too-large') : reject(e)));
  });
}

/**
 * A POST body must be JSON: parsed as a media type, so `text/plain; x=application/json` (which a browser
 * sends cross-site without a preflight) is not, and neither is a second Content-Type header (415).
 */
export function contentTypeRefusal(req: IncomingMessage): Refusal | undefined {
  const types = req.headersDistinct['content-type'] ?? [];
  const problem = types.length > 1 ? 'more than one Content-Type header' : jsonContentTypeProblem(types[0]);
  return problem === undefined
    ? undefined
    : { status: 415, rpc: -32600, message: `intentguard: ${problem}`, code: 'ERR_CONTENT_TYPE' };
}

/** A POST body read and parsed, or why not (415 type, 413 size, 400 syntax). */
export type JsonBody =
  { readonly body: unknown; readonly refusal?: undefined } | { readonly refusal: Refusal };

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
  try {
    return { body: JSON.parse(body.toString('utf8')) as unknown };
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
