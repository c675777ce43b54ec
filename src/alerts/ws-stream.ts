import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Observable, Subscription } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Alert } from '../model/decision.js';
import { listen } from '../lib/listen.js';
import { toOcsf } from './ocsf.js';

export interface AlertStreamOptions {
  readonly host?: string;
  readonly port?: number;
  /** Consoles must present this token: `Authorization: Bearer <token>` or `?token=` (for browsers). */
  readonly token: string;
}

export interface AlertStream {
  readonly url: string;
  readonly clients: number;
  close(): Promise<void>;
}

const tokenOf = (req: IncomingMessage): string | undefined => {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  return new URL(req.url ?? '/', 'http://localhost').searchParams.get('token') ?? undefined;
};

const same = (a: string, b: string) => {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Bytes queued for one console before it is considered gone. */
const MAX_BUFFERED = 8 * 1024 * 1024;

/**
 * A WebSocket stream of alerts (OCSF JSON, one message each) for consoles. Connections without the
 * right token are refused during the upgrade with HTTP 401.
 */
export async function alertStream(
  alerts$: Observable<Alert>,
  options: AlertStreamOptions,
): Promise<AlertStream> {
  const server: Server = createServer((_req, res) =>
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n'),
  );
  // Consoles only listen: a frame from one is never large, and one that is (or a protocol error) drops
  // that console, never the process.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  wss.on('connection', (ws: WebSocket) => ws.on('error', () => ws.terminate()));
  server.on('upgrade', (req, socket, head) => {
    const token = tokenOf(req);
    if (!token || !same(token, options.token)) {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="intentguard-alerts"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => wss.emit('connection', ws, req));
  });
  const sub: Subscription = alerts$.subscribe((a) => {
    const text = JSON.stringify(toOcsf(a));
    for (const client of wss.clients) {
      if (client.readyState !== client.OPEN) continue;
      // A console that stops reading is dropped rather than buffered for without bound (the alert
      // still reaches every other sink).
      if (client.bufferedAmount > MAX_BUFFERED) client.terminate();
      else client.send(text);
    }
  });
  try {
    await listen(server, options.host ?? '127.0.0.1', options.port ?? 0);
  } catch (e) {
    sub.unsubscribe();
    throw e;
  }
  const { port } = server.address() as { port: number };
  return {
    url: `ws://${options.host ?? '127.0.0.1'}:${port}/`,
    get clients() {
      return wss.clients.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        sub.unsubscribe();
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
