// The floor of any HTTP proxy that reads what it carries: a node:http server that reads each request's
// body whole, POSTs it upstream on the keep-alive agent with the MCP headers, reads upstream's answer
// whole and sends it back. No parsing, no decision, no recording: an HTTP row's added p50 beyond this
// one's is what intentguard itself costs; this row's own is the extra hop (parse, request, two writes).
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { urlToHttpOptions } from 'node:url';

const CARRIED = [
  'accept',
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
];
const BACK = ['content-type', 'mcp-session-id'];

const whole = (m: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    m.on('data', (c: Buffer) => chunks.push(c));
    m.on('end', () => resolve(Buffer.concat(chunks)));
    m.on('error', reject);
  });

/** Start the relay in front of `upstream`; its URL (same path) and a close. */
export async function nullHttpRelay(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = urlToHttpOptions(new URL(upstream));
  const server = createServer((req, res) => {
    void whole(req).then((body) => {
      const headers: Record<string, string> = { 'content-length': String(body.length) };
      for (const h of CARRIED) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
      const up = request({ ...target, method: req.method, headers }, (r) => {
        void whole(r).then((answer) => {
          const back: Record<string, string> = {};
          for (const h of BACK) if (typeof r.headers[h] === 'string') back[h] = r.headers[h];
          res.writeHead(r.statusCode ?? 502, back).end(answer);
        });
      });
      up.on('error', () => res.writeHead(502).end());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${new URL(upstream).pathname}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
