// A real SDK v2 McpServer behind createMcpHandler on node:http (2026-07-28, stateless), on 127.0.0.1.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, type McpServer } from '@modelcontextprotocol/server';

/** Serve the servers `factory` makes; `received` collects every JSON body the server was sent. */
export async function serveV2Http(factory: () => McpServer) {
  const received: Record<string, unknown>[] = [];
  const node = toNodeHandler(createMcpHandler(factory));
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text) received.push(JSON.parse(text) as Record<string, unknown>);
      void node(req, res, text ? JSON.parse(text) : undefined);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received,
    /** Stops listening and drops every connection still open (a killed client's keep-alive ones too). */
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

/**
 * POST one JSON-RPC request as a 2026-07-28 client sends it: `Mcp-Method` (and `Mcp-Name` for a named
 * request) from the message, then `headers` (which may contradict it). The answer's status and its JSON
 * body, a JSON answer's or the last `data:` line of an event stream's.
 */
export async function postV2<Body>(
  url: string,
  message: { id: string; method: string; params: Record<string, unknown> },
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Body }> {
  const name = message.params.name;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': message.method,
      ...(typeof name === 'string' && { 'mcp-name': name }),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  return { status: res.status, body: lastJson<Body>(await res.text()) };
}

/** The JSON of an HTTP answer: a JSON body's, or the last `data:` line of an event stream's. */
export function lastJson<Body>(text: string): Body {
  const data = text.startsWith('{')
    ? text
    : (
        text
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .pop() ?? 'data: {}'
      ).slice(6);
  return JSON.parse(data) as Body;
}
