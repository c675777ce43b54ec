import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { startWsProxy } from '../../src/transports/ws.js';
import {
  COUNT,
  INIT_MESSAGE,
  assertBounded,
  countMessage,
  floodMessage,
  floodRuntime,
  heldBy,
  paceBy,
  readTheRest,
  type Seen,
} from '../helpers/flood.js';

/**
 * Back-pressure over WebSocket (see test/helpers/flood.ts): an upstream flooding a client that does
 * not read is paused, and what intentguard holds for the client (its socket's write queue) stays
 * bounded by the carrier's mark instead of growing with the 32 MiB flood.
 */
describe('back-pressure: WebSocket', () => {
  it('an upstream flooding a client that does not read is paused; intentguard buffers at most the mark', async (t) => {
    const runtime = await floodRuntime();
    // The upstream: answers initialize, then sends COUNT notifications, each once the one before it
    // was written out (a server that respects its own socket's back-pressure).
    let flooded!: () => void;
    const floodDone = new Promise<void>((r) => (flooded = r));
    const upstream = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'mcp' });
    upstream.on('connection', (ws) => {
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { id?: unknown; method?: string };
        if (m.method !== 'initialize') return;
        const result = {
          protocolVersion: '2025-06-18',
          capabilities: {},
          serverInfo: { name: 'flood', version: '1' },
        };
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
        let i = 0;
        const next = () => (i < COUNT ? ws.send(floodMessage(i++), next) : flooded());
        next();
      });
    });
    await new Promise<void>((r) => upstream.once('listening', r));
    const upPort = (upstream.address() as { port: number }).port;
    const proxy = await startWsProxy({ upstream: `ws://127.0.0.1:${upPort}`, runtime });
    const proxyPort = Number(new URL(proxy.url).port);
    // intentguard's end of the client's connection (the sockets its server accepts).
    const sockets: Socket[] = [];
    const onSocket = (e: unknown) => {
      const s = (e as { socket: Socket }).socket;
      if (s.localPort === proxyPort) sockets.push(s);
    };
    subscribe('net.server.socket', onSocket);
    const { held, sample } = heldBy(() => sockets);
    const client = new WebSocket(proxy.url, 'mcp');
    const seen: Seen = { bytes: 0, notifications: 0, inOrder: true };
    client.on('message', (d) => {
      seen.bytes += String(d).length;
      countMessage(seen, JSON.parse(String(d)) as Parameters<typeof countMessage>[1]);
    });
    const reader = { read: () => client.resume(), stop: () => client.pause() };
    const pace = paceBy('ws s2c', reader, sample);
    try {
      await new Promise<void>((r) => client.once('open', () => r()));
      client.send(JSON.stringify(INIT_MESSAGE));
      client.pause();
      // The upstream finishes its flood only as fast as the slow client reads (with back-pressure).
      await readTheRest(floodDone, sample, pace, { read: reader.read, seen });
      assertBounded(t, held.max, pace.counts.pauses, seen, 'upstream');
    } finally {
      pace.stop();
      unsubscribe('net.server.socket', onSocket);
      client.terminate();
      await proxy.close();
      for (const c of upstream.clients) c.terminate();
      await new Promise<void>((r) => upstream.close(() => r()));
      await runtime.close();
    }
  });
});
