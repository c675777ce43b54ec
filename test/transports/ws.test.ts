import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import WebSocket, { WebSocketServer } from 'ws';
import { RPC_CODES, createMonitor, parseIntent, tap } from '../../src/index.js';
import type { RuntimeOptions } from '../../src/transports/runtime.js';
import { listenWebSocket } from '../../src/transports/ws-transport.js';
import { startWsProxy } from '../../src/transports/ws.js';
import { enforcingRuntime, writeIntent } from '../helpers/runtime.js';
import { demoServer } from '../helpers/servers.js';

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

describe('WebSocket', () => {
  it('server transport (in-process, tapped) and proxy: a real SDK client over ws', async () => {
    const serverMonitor = createMonitor();
    const upstream = await listenWebSocket(
      {},
      (t) =>
        void demoServer().connect(
          tap(t, serverMonitor, {
            side: 'server',
            intent: parseIntent({ purpose: 'echo', tools: ['echo', 'read_notes'] }),
          }),
        ),
    );
    const dir = mkdtempSync(join(tmpdir(), 'ig-ws-'));
    writeFileSync(join(dir, 'intent.yaml'), 'purpose: echo\ntools: [echo]\n');
    const runtime = await enforcingRuntime(join(dir, 'intent.yaml'));
    const proxy = await startWsProxy({ upstream: upstream.url, runtime });
    const client = new Client({ name: 'ws-agent', version: '1' });
    await client.connect(new WebSocketClientTransport(new URL(proxy.url)));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'over ws' } })).content, [
      { type: 'text', text: 'over ws' },
    ]);
    await assert.rejects(
      client.callTool({ name: 'send_email', arguments: { to: 'x@y.test', body: 'b' } }),
      (e: unknown) => (e as McpError).code === RPC_CODES.DENIED,
    );
    assert.equal(runtime.monitor.sessions()[0]?.transport, 'websocket');
    assert.ok(serverMonitor.sessions().length === 1, 'the in-process server transport was tapped too');
    await client.close();
    await proxy.close();
    await runtime.close();
    await upstream.close();
    serverMonitor.close();
  });

  it('a frame over the size limit closes that client with 1009, is recorded as refused, and the proxy keeps serving', async () => {
    const upstream = await listenWebSocket({}, (t) => void demoServer().connect(t));
    const dir = mkdtempSync(join(tmpdir(), 'ig-ws-'));
    writeFileSync(join(dir, 'intent.yaml'), 'purpose: echo\ntools: [echo]\n');
    const runtime = await enforcingRuntime(join(dir, 'intent.yaml'), {
      maxMessageBytes: 1024,
    });
    const proxy = await startWsProxy({ upstream: upstream.url, runtime });
    const refused: string[] = [];
    runtime.monitor.events$.subscribe((e) => {
      if (e.kind === 'invalid') refused.push(e.fault?.code ?? '');
    });
    const raw = new WebSocket(proxy.url, 'mcp');
    await new Promise((r) => raw.once('open', r));
    raw.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x'.repeat(5000) } },
      }),
    );
    assert.equal(await new Promise<number>((r) => raw.on('close', (code) => r(code))), 1009);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(refused, ['ERR_MESSAGE_TOO_LARGE']);
    const client = new Client({ name: 'ws-agent', version: '1' });
    await client.connect(new WebSocketClientTransport(new URL(proxy.url)));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'still up' } })).content, [
      { type: 'text', text: 'still up' },
    ]);
    // Connections are capped: with one open and a cap of one, the next upgrade is refused with 503.
    const capped = await startWsProxy({ upstream: upstream.url, runtime, maxSessions: 1 });
    const one = new WebSocket(capped.url, 'mcp');
    await new Promise((r) => one.once('open', r));
    const overCap = await new Promise<number>((resolve) => {
      const two = new WebSocket(capped.url, 'mcp');
      two.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      two.on('error', () => undefined);
    });
    assert.equal(overCap, 503);
    one.close();
    await capped.close();
    await client.close();
    await proxy.close();
    await runtime.close();
    await upstream.close();
  });

  it("a server that closes mid-call: the pending call is answered with an error before the client's socket closes", async () => {
    const h = await rawHarness(
      'purpose: p\ntools: [echo]\n',
      {},
      (ws, m) => m.method === 'exit' && ws.close(),
    );
    h.send({ id: 2, method: 'hang' });
    h.send({ method: 'exit' });
    assert.equal(await h.closed, 1011);
    const answer = h.got.find((m) => m.id === 2);
    assert.ok(answer, 'the pending call was answered before the socket closed');
    assert.equal(answer.error!.code, RPC_CODES.HALTED);
    assert.equal(answer.error!.data.code, 'ERR_SESSION_CLOSED');
    assert.deepEqual(h.ended, ['ended by upstream (the server closed the connection)']);
    await h.close();
  });

  it('shutting down answers what the client is owed, then closes it with 1001: a call upstream has not answered, a call held for approval', async () => {
    const h = await rawHarness('purpose: p\ntools: [echo, hang]\n', {
      db: join(mkdtempSync(join(tmpdir(), 'ig-ws-')), 'intentguard.db'),
      approvals: { cli: true, timeout: '5m' },
    });
    h.send({ method: 'notifications/initialized' });
    h.send({ id: 2, method: 'tools/call', params: { name: 'hang', arguments: {} } });
    h.send({
      id: 3,
      method: 'tools/call',
      params: { name: 'send_email', arguments: { to: 'a@b.test', body: 'x' } },
    });
    const deadline = Date.now() + 20_000;
    while (h.runtime.approvals!.pending().length === 0 || !h.seen.some((t) => t.includes('"hang"'))) {
      assert.ok(Date.now() < deadline, 'the call held for approval and the call upstream');
      await new Promise((r) => setTimeout(r, 20));
    }
    await h.proxy.close();
    assert.equal(await h.closed, 1001);
    const hang = h.got.find((m) => m.id === 2);
    assert.ok(hang?.error, 'the call upstream never answered got an answer before the socket closed');
    assert.equal(hang.error.data.code, 'ERR_SESSION_CLOSED');
    const held = h.got.find((m) => m.id === 3);
    assert.ok(held?.error, 'the held call got an answer before the socket closed');
    assert.equal(held.error.code, RPC_CODES.DENIED);
    assert.equal(held.error.data.code, 'ERR_REAUTH_REQUIRED');
    assert.ok(!h.seen.some((t) => t.includes('send_email')), 'the held call never went upstream');
    assert.deepEqual(h.ended, ['proxy shut down']);
    await h.close();
  });
});

/**
 * A raw WebSocket upstream (answers initialize, never anything else unless `onMessage` does) behind
 * `intentguard ws` with the intent `intentYaml`, and a raw client that has sent its initialize.
 */
async function rawHarness(
  intentYaml: string,
  extra: Partial<RuntimeOptions>,
  onMessage: (ws: WebSocket, m: { id?: number; method?: string }) => unknown = () => undefined,
) {
  const upstream = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'mcp' });
  await new Promise((r) => upstream.once('listening', r));
  const seen: string[] = [];
  upstream.on('connection', (ws) =>
    ws.on('message', (d) => {
      seen.push(String(d));
      const m = JSON.parse(String(d)) as { id?: number; method?: string };
      const info = {
        protocolVersion: '2025-06-18',
        capabilities: {},
        serverInfo: { name: 'raw', version: '1' },
      };
      if (m.method === 'initialize') ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: info }));
      onMessage(ws, m);
    }),
  );
  const runtime = await enforcingRuntime(writeIntent(intentYaml), extra);
  const proxy = await startWsProxy({
    upstream: `ws://127.0.0.1:${(upstream.address() as { port: number }).port}`,
    runtime,
  });
  const ended: string[] = [];
  runtime.monitor.sessionEnded$.subscribe((st) => ended.push(st.endReason ?? ''));
  const client = new WebSocket(proxy.url, 'mcp');
  const got: { id?: number; error?: { code: number; data: { code: string } } }[] = [];
  client.on('message', (d) => got.push(JSON.parse(String(d))));
  const closed = new Promise<number>((r) => client.on('close', (code) => r(code)));
  await new Promise((r) => client.once('open', r));
  const send = (m: Record<string, unknown>) => client.send(JSON.stringify({ jsonrpc: '2.0', ...m }));
  send({
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
  });
  return {
    runtime,
    proxy,
    seen,
    ended,
    got,
    closed,
    send,
    async close() {
      await proxy.close();
      await runtime.close();
      upstream.close();
    },
  };
}
