import type { IncomingMessage } from 'node:http';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The SDK ships a WebSocket client transport but no server: this is the server side, one transport per
 * accepted connection (subprotocol `mcp`). Text frames carry one JSON-RPC message each.
 */
export class WebSocketServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  constructor(private readonly socket: WebSocket) {}

  async start(): Promise<void> {
    this.socket.on('message', (data) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(data));
      } catch (e) {
        this.onerror?.(new Error(`invalid JSON from WebSocket client: ${(e as Error).message}`));
        return;
      }
      this.onmessage?.(parsed as JSONRPCMessage);
    });
    this.socket.on('close', () => this.onclose?.());
    this.socket.on('error', (e) => this.onerror?.(e));
  }

  async send(message: JSONRPCMessage): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.socket.send(JSON.stringify(message), (e) => (e ? reject(e) : resolve())),
    );
  }

  async close(): Promise<void> {
    this.socket.close();
  }
}

/** Accept MCP WebSocket connections and hand each one over as a transport. */
export async function listenWebSocket(
  options: { host?: string; port?: number },
  onTransport: (t: WebSocketServerTransport, req: IncomingMessage) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    handleProtocols: (protocols) => (protocols.has('mcp') ? 'mcp' : false),
  });
  wss.on('connection', (socket, req) => onTransport(new WebSocketServerTransport(socket), req));
  await new Promise<void>((r) => wss.on('listening', () => r()));
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}
