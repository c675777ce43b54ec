import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import WebSocket from 'ws';
import { RPC_CODES, createMonitor, parseIntent, tap } from '../src/index.js';
import { createRuntime } from '../src/proxy/runtime.js';
import { listenWebSocket } from '../src/proxy/ws-transport.js';
import { startWsProxy } from '../src/proxy/ws.js';
import { demoServer } from './helpers/servers.js';

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

describe('WebSocket', () => {
  it('server transport (in-process, tapped) and proxy: a real SDK client over ws', async () => {
    const serverMonitor = createMonitor();
    const upstream = await listenWebSocket({}, (t) => void demoServer().connect(tap(t, serverMonitor, { side: 'server', intent: parseIntent({ purpose: 'echo', tools: ['echo', 'read_notes'] }) })));
    const dir = mkdtempSync(join(tmpdir(), 'ig-ws-'));
    writeFileSync(join(dir, 'intent.yaml'), 'purpose: echo\ntools: [echo]\n');
    const runtime = await createRuntime({ mode: 'enforce', db: false, pack: true, rules: [], intentFile: join(dir, 'intent.yaml'), log: () => undefined });
    const proxy = await startWsProxy({ upstream: upstream.url, runtime });
    const client = new Client({ name: 'ws-agent', version: '1' });
    await client.connect(new WebSocketClientTransport(new URL(proxy.url)));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'over ws' } })).content, [{ type: 'text', text: 'over ws' }]);
    await assert.rejects(client.callTool({ name: 'send_email', arguments: { to: 'x@y.test', body: 'b' } }), (e: unknown) => (e as McpError).code === RPC_CODES.DENIED);
    assert.equal(runtime.monitor.sessions()[0]?.transport, 'websocket');
    assert.ok(serverMonitor.sessions().length === 1, 'the in-process server transport was tapped too');
    await client.close();
    await proxy.close();
    await runtime.close();
    await upstream.close();
    serverMonitor.close();
  });
});
