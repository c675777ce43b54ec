import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { RPC_CODES, createMonitor, parseIntent, tap, type SessionEvent } from '../../../src/index.js';
import { demoServer } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';

const tsx = ['--import', 'tsx'];

describe('tap on stdio', () => {
  it('client side: SDK Client -> tap -> StdioClientTransport -> real server process', async () => {
    const monitor = createMonitor();
    const events: SessionEvent[] = [];
    monitor.events$.subscribe((e) => events.push(e));
    const inner = new StdioClientTransport({
      command: process.execPath,
      args: [...tsx, 'test/fixtures/stdio-server.ts'],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      tap(inner, monitor, { side: 'client', intent: parseIntent({ purpose: 'echo', tools: ['echo'] }) }),
    );
    const res = await client.callTool({ name: 'echo', arguments: { text: 'over stdio' } });
    assert.deepEqual(res.content, [{ type: 'text', text: 'over stdio' }]);
    await assert.rejects(
      client.callTool({ name: 'read_notes', arguments: {} }),
      (e: unknown) => (e as McpError).code === RPC_CODES.DENIED,
    );
    assert.ok(events.some((e) => e.kind === 'response' && e.tool === 'echo'));
    await client.close();
    monitor.close();
  });

  it('server side: the tap inside the server process denies what the intent does not allow', async () => {
    const inner = new StdioClientTransport({
      command: process.execPath,
      args: [...tsx, 'test/fixtures/stdio-server.ts'],
      stderr: 'pipe',
    });
    let stderr = '';
    inner.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(inner);
    const res = await client.callTool({ name: 'echo', arguments: { text: 'ok' } });
    assert.deepEqual(res.content, [{ type: 'text', text: 'ok' }]);
    await assert.rejects(
      client.callTool({ name: 'send_email', arguments: { to: 'a@b.c', body: 'x' } }),
      (e: unknown) => {
        assert.equal((e as McpError).code, RPC_CODES.DENIED);
        assert.deepEqual(((e as McpError).data as { rules: string[] }).rules, ['intent/tool-not-approved']);
        return true;
      },
    );
    await client.close();
    assert.match(stderr, /ALERT intent\/tool-not-approved send_email/);
  });
});

describe('tap on Streamable HTTP (127.0.0.1)', () => {
  async function httpServer(
    monitor: ReturnType<typeof createMonitor>,
    intent = parseIntent({ purpose: 'echo', tools: ['echo'] }),
  ): Promise<{ url: URL; server: Server }> {
    const transports = new Map<string, StreamableHTTPServerTransport>();
    const server = createServer(async (req, res) => {
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (!transport) {
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            transports.set(id, transport!);
          },
        });
        await demoServer().connect(tap(transport, monitor, { side: 'server', intent }));
      }
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    return { url: new URL(`http://127.0.0.1:${port}/mcp`), server };
  }

  it('server side tap on StreamableHTTPServerTransport, and client side tap on StreamableHTTPClientTransport', async () => {
    const serverMonitor = createMonitor();
    const serverEvents: SessionEvent[] = [];
    serverMonitor.events$.subscribe((e) => serverEvents.push(e));
    const { url, server } = await httpServer(serverMonitor);
    const clientMonitor = createMonitor();
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      tap(new StreamableHTTPClientTransport(url), clientMonitor, {
        side: 'client',
        intent: parseIntent({ purpose: 'echo', tools: ['echo', 'read_notes'] }),
      }),
    );
    const res = await client.callTool({ name: 'echo', arguments: { text: 'over http' } });
    assert.deepEqual(res.content, [{ type: 'text', text: 'over http' }]);
    // Allowed by the client-side intent, denied by the server-side one.
    await assert.rejects(
      client.callTool({ name: 'read_notes', arguments: {} }),
      (e: unknown) => (e as McpError).code === RPC_CODES.DENIED,
    );
    // Denied by the client-side tap before it leaves the process.
    const before = serverEvents.length;
    await assert.rejects(
      client.callTool({ name: 'send_email', arguments: { to: 'x', body: 'y' } }),
      (e: unknown) => (e as McpError).code === RPC_CODES.DENIED,
    );
    assert.equal(serverEvents.filter((e) => e.tool === 'send_email').length, 0);
    assert.ok(serverEvents.length >= before);
    const call = serverEvents.find((e) => e.kind === 'request' && e.tool === 'echo')!;
    assert.equal(serverMonitor.sessions()[0]?.transport, 'StreamableHTTPServerTransport');
    assert.ok(call);
    await client.close();
    server.close();
    serverMonitor.close();
    clientMonitor.close();
  });
});

describe('tap with real MCP servers from npm', () => {
  it('@modelcontextprotocol/server-filesystem over stdio: reads pass, a write outside the intent is stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-fs-'));
    writeFileSync(join(dir, 'notes.txt'), 'quarterly numbers');
    const monitor = createMonitor();
    const events: SessionEvent[] = [];
    monitor.events$.subscribe((e) => events.push(e));
    const inner = new StdioClientTransport({
      command: process.execPath,
      args: ['node_modules/@modelcontextprotocol/server-filesystem/dist/index.js', dir],
      stderr: 'pipe',
    });
    const intent = parseIntent({
      purpose: 'summarise notes.txt',
      tools: ['list_directory', { name: 'read_text_file', args: { path: { prefix: [dir] } } }],
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(tap(inner, monitor, { side: 'client', intent }));
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'write_file'));
    const read = await client.callTool({
      name: 'read_text_file',
      arguments: { path: join(dir, 'notes.txt') },
    });
    assert.match(JSON.stringify(read.content), /quarterly numbers/);
    await assert.rejects(
      client.callTool({ name: 'read_text_file', arguments: { path: '/etc/hostname' } }),
      (e: unknown) => {
        assert.deepEqual(((e as McpError).data as { rules: string[] }).rules, ['intent/argument-constraint']);
        return true;
      },
    );
    await assert.rejects(
      client.callTool({ name: 'write_file', arguments: { path: join(dir, 'out.txt'), content: 'x' } }),
    );
    assert.equal(existsSync(join(dir, 'out.txt')), false, 'the denied write never happened');
    const state = monitor.sessions()[0]!;
    assert.ok(state.tools.has('write_file'), 'tool definitions learned from tools/list');
    await client.close();
    monitor.close();
  });

  it('@modelcontextprotocol/server-everything over stdio: budget halt closes the real server session', async () => {
    const monitor = createMonitor();
    const inner = new StdioClientTransport({
      command: process.execPath,
      args: ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'agent', version: '1' });
    let closed = false;
    client.onclose = () => {
      closed = true;
    };
    await client.connect(
      tap(inner, monitor, {
        side: 'client',
        intent: parseIntent({ purpose: 'echo twice', tools: ['echo'], budget: { calls: 2 } }),
      }),
    );
    for (let i = 0; i < 2; i++) await client.callTool({ name: 'echo', arguments: { message: `m${i}` } });
    await assert.rejects(
      client.callTool({ name: 'echo', arguments: { message: 'third' } }),
      (e: unknown) => (e as McpError).code === RPC_CODES.HALTED,
    );
    await waitFor(() => closed, 'the client to see the transport close');
    assert.equal(monitor.stats().sessions, 0);
    monitor.close();
  });
});
