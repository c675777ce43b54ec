import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpCarrier } from './context.js';
import { refuse } from './refusals.js';
import type { ProxySession } from './sessions.js';

/** `DELETE` on the MCP endpoint: end the session upstream (its answer passes as it is) and here. */
export async function handleDelete(
  c: HttpCarrier,
  req: IncomingMessage,
  res: ServerResponse,
  s: ProxySession | undefined,
): Promise<void> {
  if (!s)
    return refuse(res, {
      status: 404,
      rpc: -32001,
      message: 'intentguard: unknown session',
      code: 'ERR_SESSION_CLOSED',
    });
  const up = await c.upstream.call('DELETE', req.headers, undefined, s);
  res.writeHead(up.status, { 'content-type': String(up.headers['content-type'] ?? 'text/plain') });
  if (up.kind === 'stream') up.body.pipe(res);
  else res.end(up.body === 'too-large' ? '' : up.body);
  s.handle.close('closed by client (DELETE)');
}
