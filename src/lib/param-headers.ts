import type { IncomingMessage } from 'node:http';

/**
 * Copy a client's `Mcp-Param-*` headers (streamable-http.mdx, "Request Metadata") onto `to` as they
 * came; no array built per request.
 * @example copyParamHeaders(req, headers)
 */
export function copyParamHeaders(req: IncomingMessage, to: Record<string, string>): void {
  for (const h in req.headers) {
    const v = req.headers[h];
    if (h.startsWith('mcp-param-') && typeof v === 'string') to[h] = v;
  }
}
