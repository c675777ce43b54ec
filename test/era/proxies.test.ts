// Both protocol eras through `intentguard stdio` and `intentguard ws` (issue 15), with real SDK v1 and v2
// Clients and McpServers: the era gate runs on every carrier, not only HTTP. Mixed pairs: a v2 client
// in front of a v1 server falls back to 2025-11-25 and is decided as before; a v1 client in front of a
// v2 server likewise; v2 ↔ v2 is 2026-07-28 end to end, with approvals over MRTR answered by the v2
// client's own elicitation handler.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2Stdio } from '@modelcontextprotocol/client/stdio';
import { StreamableHTTPClientTransport as V2StreamableHttp } from '@modelcontextprotocol/client';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1Stdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import WebSocket from 'ws';
import { RPC_CODES } from '../../src/errors.js';
import { createRuntime } from '../../src/app/runtime.js';
import { listenWebSocket } from '../../src/transports/ws-transport.js';
import { startWsProxy } from '../../src/transports/ws.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { openStore } from '../../src/store/db.js';
import { notesServer } from './fixtures/v2-tools.js';
import { waitFor } from '../helpers/wait.js';

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const dir = mkdtempSync(join(tmpdir(), 'ig-era-proxies-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things\ntools: [echo]\nbudget:\n  calls: 6\n');

const V2_SERVER = [process.execPath, '--import', 'tsx', 'test/era/fixtures/v2-server.ts'];
const V1_SERVER = [process.execPath, 'test/era/fixtures/v1-server.mjs'];

/** `intentguard stdio` in front of `server`, as the command a stdio client starts. */
const proxyCommand = (db: string, server: string[]) => ({
  command: process.execPath,
  args: ['bin/intentguard.js', 'stdio', '--intent', intentFile, '--db', db, '--', ...server],
  cwd: process.cwd(),
  stderr: 'ignore' as const,
});

const eventsOf = (db: string) => {
  const store = openStore(db);
  try {
    return store.db.prepare('SELECT method, dir FROM events ORDER BY seq').all() as {
      method: string | null;
      dir: string;
    }[];
  } finally {
    store.close();
  }
};

/** A v2 client pinned to 2026-07-28 whose elicitation handler answers intentguard's prompt with `approve`. */
const v2Client = (approve: boolean | undefined) => {
  const client = new V2Client(
    { name: 'v2-agent', version: '2' },
    {
      capabilities: approve === undefined ? {} : { elicitation: {} },
      versionNegotiation: { mode: { pin: '2026-07-28' } },
    },
  );
  if (approve !== undefined)
    client.setRequestHandler('elicitation/create', async () => ({
      action: 'accept',
      content: { approve },
    }));
  return client;
};

const rpcCode = (e: unknown) => (e as { code?: number }).code;

describe('era: both eras through intentguard stdio', () => {
  it('v2 ↔ v2: 2026-07-28 without initialize; a held call is approved over MRTR by the client, declined is refused', async () => {
    const db = join(dir, `v2v2-${Math.random()}.db`);
    const yes = v2Client(true);
    await yes.connect(new V2Stdio(proxyCommand(db, V2_SERVER)));
    assert.deepEqual((await yes.callTool({ name: 'echo', arguments: { text: 'hi' } })).content, [
      { type: 'text', text: 'hi' },
    ]);
    // write_note is outside the intent: held, asked over MRTR, approved by the client's handler, run once.
    const done = await yes.callTool({ name: 'write_note', arguments: { title: 't', body: 'b' } });
    assert.deepEqual(done.content, [{ type: 'text', text: 'saved t' }]);
    await yes.close();
    // The client's close does not wait for the proxy to flush its recorder: wait for the rows, then assert.
    await waitFor(() => eventsOf(db).some((e) => e.method === 'server/discover'), 'server/discover recorded');
    assert.ok(!eventsOf(db).some((e) => e.method === 'initialize'), 'no handshake in 2026-07-28');

    const no = v2Client(false);
    await no.connect(new V2Stdio(proxyCommand(join(dir, `v2v2-no-${Math.random()}.db`), V2_SERVER)));
    await assert.rejects(
      no.callTool({ name: 'write_note', arguments: { title: 't', body: 'b' } }),
      (e: unknown) => rpcCode(e) === RPC_CODES.DENIED,
    );
    await no.close();

    // A client that declares no elicitation is refused with the specification's code, never prompted.
    const none = v2Client(undefined);
    await none.connect(new V2Stdio(proxyCommand(join(dir, `v2v2-none-${Math.random()}.db`), V2_SERVER)));
    await assert.rejects(
      none.callTool({ name: 'write_note', arguments: { title: 't', body: 'b' } }),
      (e: unknown) => rpcCode(e) === -32021,
    );
    await none.close();
  });

  it('v2 client → v1 server: the client falls back to 2025-11-25 through intentguard and is decided as before', async () => {
    const db = join(dir, `v2v1-${Math.random()}.db`);
    const client = new V2Client(
      { name: 'v2-agent', version: '2' },
      { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } },
    );
    await client.connect(new V2Stdio(proxyCommand(db, V1_SERVER)));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'old' } })).content, [
      { type: 'text', text: 'old' },
    ]);
    // 2025 era, no approver configured: the out-of-intent call is denied at once (no MRTR prompt).
    await assert.rejects(
      client.callTool({ name: 'write_note', arguments: { title: 't', body: 'b' } }),
      (e: unknown) => rpcCode(e) === RPC_CODES.DENIED,
    );
    await client.close();
    await waitFor(() => eventsOf(db).some((e) => e.method === 'initialize'), 'initialize recorded');
  });

  it('v1 client → v2 server: a 2025-11-25 session to a server that serves both eras', async () => {
    const db = join(dir, `v1v2-${Math.random()}.db`);
    const client = new V1Client({ name: 'v1-agent', version: '1' });
    await client.connect(new V1Stdio(proxyCommand(db, V2_SERVER)));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'x' } })).content, [
      { type: 'text', text: 'x' },
    ]);
    await assert.rejects(
      client.callTool({ name: 'write_note', arguments: { title: 't', body: 'b' } }),
      (e: unknown) => rpcCode(e) === RPC_CODES.DENIED,
    );
    await client.close();
  });
});

describe('era: 2026-07-28 through intentguard ws', () => {
  it('v2 client (over the v1 SDK WebSocket client transport: v2 has none) → intentguard ws → v2 McpServer', async () => {
    const upstream = await listenWebSocket({}, (t) => void serveStdio(notesServer, { transport: t }));
    const runtime = await createRuntime({
      mode: 'enforce',
      db: join(dir, `ws-${Math.random()}.db`),
      pack: true,
      rules: [],
      intentFile,
      log: () => undefined,
    });
    const proxy = await startWsProxy({ upstream: upstream.url, runtime });
    try {
      const client = v2Client(true);
      await client.connect(new WebSocketClientTransport(new URL(proxy.url)) as never);
      assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'ws' } })).content, [
        { type: 'text', text: 'ws' },
      ]);
      const done = await client.callTool({ name: 'write_note', arguments: { title: 'w', body: 'b' } });
      assert.deepEqual(done.content, [{ type: 'text', text: 'saved w' }]);
      const [session] = runtime.monitor.sessions();
      assert.equal(session?.transport, 'websocket');
      assert.equal(session?.calls, 3, 'echo, the held write_note and its approved retry');
      await client.close();
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });
});

describe('era: 2026-07-28 through intentguard http -- <command> (the stdio bridge)', () => {
  it('a v2 client without initialize or session id: its requests share one process and session; approvals over MRTR', async () => {
    const runtime = await createRuntime({
      mode: 'enforce',
      db: join(dir, `bridge-${Math.random()}.db`),
      pack: true,
      rules: [],
      intentFile,
      log: () => undefined,
    });
    const [command, ...args] = V2_SERVER;
    const proxy = await startHttpProxy({ server: { command: command!, args }, runtime });
    try {
      const client = v2Client(true);
      await client.connect(new V2StreamableHttp(new URL(proxy.url)));
      for (const text of ['a', 'b'])
        assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text } })).content, [
          { type: 'text', text },
        ]);
      // Held (outside the intent), asked over MRTR, approved by the client's handler, run once.
      const done = await client.callTool({ name: 'write_note', arguments: { title: 'h', body: 'b' } });
      assert.deepEqual(done.content, [{ type: 'text', text: 'saved h' }]);
      const sessions = runtime.monitor.sessions();
      assert.equal(sessions.length, 1, 'one intentguard session (one server process) for the grant');
      assert.equal(sessions[0]!.calls, 4, 'echo twice, the held write_note and its approved retry');
      await client.close();

      // Headers are checked against the body on this path too: -32020, nothing reaches the process.
      const res = await fetch(proxy.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'write_note',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 'm1',
          method: 'tools/call',
          params: {
            name: 'echo',
            arguments: { text: 'x' },
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': {},
            },
          },
        }),
      });
      const text = await res.text();
      const answer = JSON.parse(text.startsWith('{') ? text : text.slice(text.indexOf('data: ') + 6)) as {
        result?: unknown;
        error?: { code: number };
      };
      assert.equal(answer.error?.code, -32020);
      assert.equal(answer.result, undefined, 'the call never ran');
    } finally {
      await proxy.close();
      await runtime.close();
    }
  });
});
