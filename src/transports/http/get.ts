import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpCarrier } from './context.js';
import { needsSession, refuse, upstreamTooLarge } from './refusals.js';
import type { ProxySession } from './sessions.js';
import { relaySse } from './sse.js';

/**
 * `GET` on the MCP endpoint: the session's stream for server messages that belong to no request,
 * opened upstream and relayed event by event (each decided); a non-stream answer passes as it is.
 */
export async function handleGet(
  c: HttpCarrier,
  req: IncomingMessage,
  res: ServerResponse,
  s: ProxySession | undefined,
): Promise<void> {
  if (!s) return refuse(res, needsSession('GET', false)!);
  const up = await c.upstream.call('GET', req.headers, undefined, s);
  const headers: Record<string, string> = {};
  for (const h of ['content-type', 'cache-control', 'mcp-session-id'])
    if (typeof up.headers[h] === 'string') headers[h] = up.headers[h];
  if (up.kind === 'whole') {
    // Not a stream (upstream has none for this session, say): its answer passes as it is.
    if (up.body === 'too-large') return refuse(res, upstreamTooLarge(c.maxBody));
    res.writeHead(up.status, headers).end(up.body);
    return;
  }
  res.writeHead(up.status, headers);
  s.stream = res;
  res.on('close', () => up.body.destroy());
  relaySse(c, s, up.body, res, {
    onEnd: () => {
      if (s.stream === res) s.stream = undefined;
    },
  });
}
