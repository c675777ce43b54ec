import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { demoServer } from './servers.js';

/**
 * A real SDK McpServer behind StreamableHTTPServerTransport on 127.0.0.1, recording what reached it.
 * `json`: answer POSTs with JSON bodies instead of event streams; `server`: the server each session
 * gets (default {@link demoServer}).
 */
export async function httpUpstream(
  options: { json?: boolean; stateless?: boolean; server?: () => McpServer } = {},
): Promise<{
  url: string;
  server: Server;
  seen: { method: string; headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const seen: { method: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ method: req.method ?? '', headers: req.headers, body });
    if (options.stateless) {
      // Stateless: a fresh server and transport per request, no session ids at all.
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: options.json ?? false,
      });
      await (options.server ?? demoServer)().connect(t);
      await t.handleRequest(req, res, body ? JSON.parse(body) : undefined);
      return;
    }
    const sid = req.headers['mcp-session-id'];
    let t = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (!t) {
      t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: options.json ?? false,
        onsessioninitialized: (id) => {
          transports.set(id, t!);
        },
      });
      await (options.server ?? demoServer)().connect(t);
    }
    await t.handleRequest(req, res, body ? JSON.parse(body) : undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`,
    server,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A real SDK McpServer behind the legacy SSEServerTransport (GET /sse, POST /messages) on 127.0.0.1. */
export async function sseUpstream(): Promise<{
  url: string;
  seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}> {
  const transports = new Map<string, SSEServerTransport>();
  const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/sse') {
      seen.push({ method: 'GET', url: req.url ?? '', headers: req.headers, body: '' });
      const t = new SSEServerTransport('/messages', res);
      transports.set(t.sessionId, t);
      res.on('close', () => transports.delete(t.sessionId));
      await demoServer().connect(t);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const t = transports.get(url.searchParams.get('sessionId') ?? '');
    if (!t) return void res.writeHead(404).end('no such session');
    await t.handlePostMessage(req, res, JSON.parse(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/sse`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
