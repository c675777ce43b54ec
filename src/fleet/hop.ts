import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { errorAnswer } from '../jsonrpc/message.js';
import { copyParamHeaders } from '../lib/param-headers.js';

/** Set on a request one instance of a fleet sends on to the owner of its state: it is never sent on again. */
export const FORWARDED_HEADER = 'intentguard-forwarded';

/** Client headers a hop carries: the MCP ones, the grant, the correlation, trace context, resumption. */
const CARRIED = [
  'accept',
  'authorization',
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
  'intentguard-correlation',
  'traceparent',
  'tracestate',
];

/** Answer headers carried back from the owner to the client. */
const CARRIED_BACK = [
  'content-type',
  'cache-control',
  'mcp-session-id',
  'www-authenticate',
  'retry-after',
  'x-accel-buffering',
  'allow',
];

/** Whether a request failed without reaching its server (not received: it may go elsewhere). */
const unreached = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND';
};

/**
 * One hop of a fleet: send a client's request (its method, the headers that matter, the body already
 * read) to the instance that owns its state, marked {@link FORWARDED_HEADER}, and stream the owner's
 * answer back as it comes (an SSE stream too; closing the client's side closes the hop). 'unreached'
 * when the owner was not there (nothing was sent: the caller may wait out its lease and take over).
 * @example if ((await hop(owner.address, req, res, text, me)) === 'unreached') await takeOver()
 */
export async function hop(
  address: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: string | undefined,
  from: string,
): Promise<'done' | 'unreached'> {
  const headers: Record<string, string> = { [FORWARDED_HEADER]: from };
  for (const h of CARRIED) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  copyParamHeaders(req, headers);
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const target = new URL(address);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  let up: IncomingMessage;
  try {
    up = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = send(target, { method: req.method ?? 'POST', headers }, resolve);
      r.on('error', reject);
      res.once('close', () => r.destroy());
      r.end(body);
    });
  } catch (e) {
    if (unreached(e)) return 'unreached';
    if (!res.headersSent)
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(
          JSON.stringify(
            errorAnswer(
              null,
              -32603,
              `intentguard: the owner of this session at ${address} failed: ${(e as Error).message}`,
              { code: 'ERR_SESSION_LEASE' },
            ),
          ),
        );
    return 'done';
  }
  const back: Record<string, string> = {};
  for (const h of CARRIED_BACK) {
    const v = up.headers[h];
    if (typeof v === 'string') back[h] = v;
  }
  res.writeHead(up.statusCode ?? 502, back);
  res.once('close', () => up.destroy());
  try {
    for await (const chunk of up) res.write(chunk);
  } catch {
    // The owner's side broke off mid-answer (it died): the client's answer ends here.
  }
  res.end();
  return 'done';
}
