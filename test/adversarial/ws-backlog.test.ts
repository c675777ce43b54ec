// Issue 11 (hostile bytes, bounds): "WebSocket backlog before the upstream opens". What `intentguard ws`
// decided while its upstream connection was still opening was kept in an unbounded array: a client
// facing a server that accepts TCP but never completes the handshake could grow the proxy's memory
// without limit. Now bounded (maxPending frames, 4x maxMessageBytes bytes): past it the session ends and
// every request still owed an answer gets ERR_UPSTREAM_BACKLOG. The upstream is a real socket that
// reads the upgrade request and never answers it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startWsProxy } from '../../src/transports/ws.js';
import { enforcingRuntime } from '../helpers/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-ws-backlog-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'intent.yaml'), 'purpose: echo\ntools: [echo]\n');

/** An HTTP server that takes WebSocket upgrades and never answers them (the handshake never completes). */
async function stalledUpstream(): Promise<{ url: string; server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer();
  server.on('upgrade', (_req, socket: Socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, server, sockets };
}

describe('WebSocket proxy: the backlog before the upstream opens is bounded', () => {
  for (const [shape, frames] of [
    // Many small notifications (no answer owed, so only the frame count bounds them) after one ping,
    // and a few large pings (the byte bound).
    [
      'a ping, then many small notifications',
      (i: number) =>
        i === 0
          ? { jsonrpc: '2.0', id: i, method: 'ping' }
          : { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
    ],
    [
      'large pings',
      (i: number) => ({
        jsonrpc: '2.0',
        id: i,
        method: 'ping',
        params: { _meta: { pad: 'p'.repeat(3000) } },
      }),
    ],
  ] as const)
    it(
      `WebSocket backlog before the upstream opens: ${shape} end the session with ERR_UPSTREAM_BACKLOG`,
      { timeout: 120_000 },
      async () => {
        const upstream = await stalledUpstream();
        const runtime = await enforcingRuntime(join(dir, 'intent.yaml'), {
          maxMessageBytes: 4096,
        });
        const proxy = await startWsProxy({ upstream: upstream.url, runtime });
        try {
          const ws = new WebSocket(proxy.url, 'mcp');
          await new Promise((r) => ws.once('open', r));
          const codes: string[] = [];
          ws.on('message', (d) => {
            const m = JSON.parse(String(d)) as { error?: { data?: { code?: string } } };
            codes.push(m.error?.data?.code ?? 'answer');
          });
          const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
          // Far more than either bound; a proxy keeping them all would wait for the upstream forever.
          for (let i = 0; i < 3000; i++) ws.send(JSON.stringify(frames(i)));
          const code = await closed;
          assert.ok(code === 1013 || code === 1008, `closed with ${code}`);
          assert.ok(codes.length > 0 && codes.every((c) => c === 'ERR_UPSTREAM_BACKLOG'), codes.join(','));
          assert.equal(runtime.monitor.sessions().filter((s) => s.status === 'open').length, 0);
        } finally {
          await proxy.close();
          await runtime.close();
          for (const s of upstream.sockets) s.destroy();
          await new Promise((r) => upstream.server.close(r));
        }
      },
    );
});
