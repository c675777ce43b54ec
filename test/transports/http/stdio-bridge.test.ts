import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { RPC_CODES, listSessions, openStore } from '../../../src/index.js';
import { mintGrant } from '../../../src/identity/grant.js';
import { generateKeys } from '../../../src/identity/keys.js';
import { startHttpProxy } from '../../../src/transports/http/server.js';
import type { RuntimeOptions } from '../../../src/transports/runtime.js';
import { spawn, spawnSync } from 'node:child_process';
import { freePort } from '../../helpers/everything-http.js';
import { approvingClient } from '../../helpers/approving-client.js';
import { waitFor } from '../../helpers/wait.js';
import { enforcingRuntime } from '../../helpers/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-http-stdio-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(
  intentFile,
  'purpose: exercise the everything server\ntools: [echo, trigger-long-running-operation, trigger-sampling-request]\n',
);
const everything = ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'];

async function bridge(server: readonly string[], extra: Partial<RuntimeOptions> = {}) {
  const runtime = await enforcingRuntime(intentFile, extra);
  const proxy = await startHttpProxy({
    server: { command: process.execPath, args: server },
    runtime,
    resource: 'https://ig.test/mcp',
  });
  return {
    runtime,
    proxy,
    async close() {
      await proxy.close();
      await runtime.close();
    },
  };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('intentguard http in front of a stdio server', () => {
  it("a real SDK client drives server-everything over Streamable HTTP: calls, progress on the call's stream, a server request answered by the client, refusals, recording", async () => {
    const db = join(dir, 'bridge.db');
    const b = await bridge(everything, { db });
    const client = new Client({ name: 'http-agent', version: '1' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(
      CreateMessageRequestSchema,
      async (req) =>
        ({
          model: 'test-model',
          role: 'assistant',
          content: { type: 'text', text: `sampled: ${JSON.stringify(req.params.messages[0]?.content)}` },
        }) as never,
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(b.proxy.url)));
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: 'over http' } })).content, [
      { type: 'text', text: 'Echo: over http' },
    ]);
    // Progress notifications travel on the call's own stream, before its answer.
    const progress: number[] = [];
    const long = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    assert.ok(!long.isError);
    assert.deepEqual(progress, [1, 2, 3]);
    // The server asks the client (sampling) in the middle of a call: the request reaches the client and its answer the server.
    const sampled = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'hello', maxTokens: 10 },
    });
    assert.match(JSON.stringify(sampled.content), /sampled:/);
    // Outside the approved tools: intentguard's refusal, and the server never sees it.
    await assert.rejects(
      client.callTool({ name: 'toggle-simulated-logging', arguments: {} }),
      (e: unknown) => {
        assert.equal((e as McpError).code, RPC_CODES.DENIED);
        assert.deepEqual(((e as McpError).data as { rules: string[] }).rules, ['IG-INT-001']);
        return true;
      },
    );
    // Still usable after a refusal.
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: 'again' } })).content, [
      { type: 'text', text: 'Echo: again' },
    ]);
    await client.close();
    await b.close();
    const store = openStore(db, { readonly: true });
    const rows = listSessions(store);
    store.close();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.transport, 'http');
    assert.ok(rows[0]!.events >= 12, `recorded ${rows[0]!.events} events`);
  });

  it("a held call asks the client over elicitation on the call's own stream; approved it runs, declined it never reaches the server", async () => {
    // A site rule that holds get-sum for approval.
    const site = join(dir, 'site');
    mkdirSync(site, { recursive: true });
    writeFileSync(
      join(site, 'SITE-SUM-001.yaml'),
      'id: SITE-SUM-001\ntitle: Sums need a person\ndescription: hold get-sum for approval\nseverity: medium\nmatch:\n  on: tool_call\n  when: call.tool == "get-sum"\naction: reauthorize\n',
    );
    const b = await bridge(everything, { rules: [site], approvals: { elicitation: true } });
    const { client, user } = approvingClient('http-agent');
    const asked = user.asked;
    await client.connect(new StreamableHTTPClientTransport(new URL(b.proxy.url)));
    const ran = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    assert.equal(asked.length, 1);
    assert.match(asked[0]!, /wants to call get-sum/);
    assert.match(JSON.stringify(ran.content), /The sum of 2 and 3 is 5/, 'approved: the server ran it');
    user.answer = 'decline';
    await assert.rejects(
      client.callTool({ name: 'get-sum', arguments: { a: 4, b: 4 } }),
      (e: unknown) => (e as McpError).code === RPC_CODES.DENIED,
    );
    assert.equal(asked.length, 2);
    const seen: string[] = [];
    const sub = b.runtime.monitor.events$.subscribe((e) => {
      if (e.dir === 's2c' && e.kind === 'response') seen.push(JSON.stringify(e.raw));
    });
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: 'on' } })).content, [
      { type: 'text', text: 'Echo: on' },
    ]);
    sub.unsubscribe();
    assert.ok(!seen.some((t) => t.includes('is 8')), 'the declined call never reached the server');
    await client.close();
    await b.close();
  });

  it('gives each MCP session its own server process; DELETE ends one and stops its process, the other goes on', async () => {
    const b = await bridge(['test/fixtures/raw-server.mjs']);
    const open = async () => {
      const r = await post(b.proxy.url, INIT);
      assert.equal(r.status, 200);
      assert.equal(
        ((await r.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name,
        'raw',
      );
      return r.headers.get('mcp-session-id')!;
    };
    const [one, two] = [await open(), await open()];
    assert.notEqual(one, two);
    assert.equal(b.runtime.monitor.sessions().length, 2);
    const call = (sid: string, id: number) =>
      post(
        b.proxy.url,
        { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: sid } } },
        { 'mcp-session-id': sid },
      );
    const answered = (await (await call(one, 1)).json()) as { id: number; result: unknown };
    assert.equal(answered.id, 1);
    assert.equal(
      (await fetch(b.proxy.url, { method: 'DELETE', headers: { 'mcp-session-id': one } })).status,
      200,
    );
    await waitFor(() => b.runtime.monitor.sessions().length === 1, 'the deleted session to end');
    const gone = await call(one, 2);
    assert.equal(gone.status, 404);
    assert.equal(
      ((await gone.json()) as { error: { data: { code: string } } }).error.data.code,
      'ERR_SESSION_CLOSED',
    );
    assert.equal(((await (await call(two, 3)).json()) as { id: number }).id, 3);
    // A batch: each request decided on its own, the answers come back together (the refused one from intentguard).
    const batch = (await (
      await post(
        b.proxy.url,
        [
          {
            jsonrpc: '2.0',
            id: 4,
            method: 'tools/call',
            params: { name: 'echo', arguments: { text: 'in a batch' } },
          },
          {
            jsonrpc: '2.0',
            id: 5,
            method: 'tools/call',
            params: { name: 'send_email', arguments: { to: 'x@evil.test', body: 'b' } },
          },
        ],
        { 'mcp-session-id': two },
      )
    ).json()) as { id: number; result?: unknown; error?: { code: number } }[];
    assert.deepEqual(batch.map((m) => m.id).sort(), [4, 5]);
    assert.ok(batch.find((m) => m.id === 4)!.result);
    assert.equal(batch.find((m) => m.id === 5)!.error!.code, RPC_CODES.DENIED);
    // Invalid messages are answered, never silently accepted: 400 with null-id JSON-RPC errors saying why.
    for (const bad of [
      null,
      'x',
      {},
      { jsonrpc: '2.0', id: 7 },
      { jsonrpc: '2.0', id: { a: 1 }, method: 'ping' },
    ]) {
      const r = await post(b.proxy.url, bad, { 'mcp-session-id': two });
      assert.equal(r.status, 400, JSON.stringify(bad));
      const e = (await r.json()) as {
        id: null;
        error: { code: number; message: string; data: { code: string } };
      };
      assert.equal(e.id, null);
      assert.equal(e.error.code, -32600);
      assert.match(e.error.data.code, /^ERR_JSONRPC_/);
    }
    // Notifications alone are accepted (202); a session must start with initialize.
    assert.equal(
      (
        await post(
          b.proxy.url,
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          { 'mcp-session-id': two },
        )
      ).status,
      202,
    );
    const noInit = await post(b.proxy.url, { jsonrpc: '2.0', id: 9, method: 'tools/list' });
    assert.equal(noInit.status, 400);
    await b.close();
  });

  it('a server that dies mid-call answers the pending call at once with an error and ends the session as ended by upstream', async () => {
    const b = await bridge(['test/fixtures/raw-server.mjs']);
    const init = await post(b.proxy.url, INIT);
    const sid = init.headers.get('mcp-session-id')!;
    const hanging = post(b.proxy.url, { jsonrpc: '2.0', id: 5, method: 'hang' }, { 'mcp-session-id': sid });
    await new Promise((r) => setTimeout(r, 100));
    await post(
      b.proxy.url,
      { jsonrpc: '2.0', method: 'exit', params: { code: 3 } },
      { 'mcp-session-id': sid },
    );
    const answer = (await (await hanging).json()) as {
      id: number;
      error: { code: number; data: { code: string } };
    };
    assert.equal(answer.id, 5);
    assert.equal(answer.error.code, RPC_CODES.HALTED);
    assert.equal(answer.error.data.code, 'ERR_SESSION_CLOSED');
    await waitFor(() => b.runtime.monitor.sessions().length === 0, 'the session to end');
    assert.equal(
      (await post(b.proxy.url, { jsonrpc: '2.0', id: 6, method: 'ping' }, { 'mcp-session-id': sid })).status,
      404,
    );
    await b.close();
  });

  it('shutting down answers a call the server has not answered before the server process and the connection go', async () => {
    const b = await bridge(['test/fixtures/raw-server.mjs']);
    const init = await post(b.proxy.url, INIT);
    const sid = init.headers.get('mcp-session-id')!;
    const ended: string[] = [];
    b.runtime.monitor.sessionEnded$.subscribe((st) => ended.push(st.endReason ?? ''));
    const hanging = post(b.proxy.url, { jsonrpc: '2.0', id: 5, method: 'hang' }, { 'mcp-session-id': sid });
    await waitFor(() => b.runtime.monitor.sessions()[0]?.pending.size === 1, 'the call sent to the server');
    await b.proxy.close();
    const answer = (await (await hanging).json()) as {
      id: number;
      error: { code: number; data: { code: string } };
    };
    assert.equal(answer.id, 5);
    assert.equal(answer.error.data.code, 'ERR_SESSION_CLOSED');
    assert.deepEqual(ended, ['proxy shut down']);
    await b.runtime.close();
  });

  it('an answer from the server over the size limit is withheld: the call gets an error, the session goes on', async () => {
    const b = await bridge(['test/fixtures/raw-server.mjs'], { maxMessageBytes: 2048 });
    const sid = (await post(b.proxy.url, INIT)).headers.get('mcp-session-id')!;
    const big = (await (
      await post(
        b.proxy.url,
        { jsonrpc: '2.0', id: 5, method: 'emit-big', params: { size: 5000 } },
        { 'mcp-session-id': sid },
      )
    ).json()) as { id: number; error: { message: string; data: { code: string } } };
    assert.equal(big.id, 5);
    assert.equal(big.error.data.code, 'ERR_MESSAGE_TOO_LARGE');
    assert.match(big.error.message, /withheld/);
    const next = (await (
      await post(
        b.proxy.url,
        { jsonrpc: '2.0', id: 6, method: 'emit-big', params: { size: 10 } },
        { 'mcp-session-id': sid },
      )
    ).json()) as { id: number; result: unknown };
    assert.equal(next.id, 6);
    assert.ok(next.result);
    await b.close();
  });

  it('at most maxSessions sessions (a process each) at once: one more gets 503 ERR_TOO_MANY_SESSIONS and starts nothing', async () => {
    const runtime = await enforcingRuntime(intentFile);
    const proxy = await startHttpProxy({
      server: { command: process.execPath, args: ['test/fixtures/raw-server.mjs'] },
      runtime,
      maxSessions: 2,
    });
    const sids = [];
    for (let i = 0; i < 2; i++) sids.push((await post(proxy.url, INIT)).headers.get('mcp-session-id')!);
    const third = await post(proxy.url, INIT);
    assert.equal(third.status, 503);
    assert.equal(third.headers.get('retry-after'), '5');
    assert.equal(
      ((await third.json()) as { error: { data: { code: string } } }).error.data.code,
      'ERR_TOO_MANY_SESSIONS',
    );
    assert.equal(runtime.monitor.sessions().length, 2);
    await fetch(proxy.url, { method: 'DELETE', headers: { 'mcp-session-id': sids[0]! } });
    await waitFor(() => runtime.monitor.sessions().length === 1, 'the deleted session to end');
    assert.equal((await post(proxy.url, INIT)).status, 200, 'room again after one ended');
    await proxy.close();
    await runtime.close();
  });

  it('a server command that cannot be started: the initialize call gets an error at once, nothing hangs', async () => {
    const runtime = await enforcingRuntime(intentFile);
    const proxy = await startHttpProxy({
      server: { command: join(dir, 'no-such-server'), args: [] },
      runtime,
    });
    const r = await post(proxy.url, INIT);
    const answer = (await r.json()) as { id: number; error: { code: number; message: string } };
    assert.equal(answer.id, 0);
    assert.equal(answer.error.code, RPC_CODES.HALTED);
    assert.match(answer.error.message, /could not be started/);
    await waitFor(() => runtime.monitor.sessions().length === 0, 'the session to end');
    await proxy.close();
    await runtime.close();
  });

  it("verifies the agent's grant before any process is started, and binds each session to its agent", async () => {
    const keys = await generateKeys('ES256');
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.publicJwks));
    const b = await bridge(['test/fixtures/raw-server.mjs'], {
      auth: { jwks: join(dir, 'jwks.json'), issuers: ['https://idp.test'], audience: 'https://ig.test/mcp' },
    });
    const mint = (sub: string) =>
      mintGrant({
        privateJwk: keys.privateJwk,
        iss: 'https://idp.test',
        aud: 'https://ig.test/mcp',
        sub,
        ttl: '5m',
        intent: { purpose: 'p', tools: ['echo'] },
      });
    const anonymous = await post(b.proxy.url, INIT);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal(b.runtime.monitor.sessions().length, 0, 'no session, no process');
    const alice = await mint('agent:alice');
    const init = await post(b.proxy.url, INIT, { authorization: `Bearer ${alice}` });
    assert.equal(init.status, 200);
    const sid = init.headers.get('mcp-session-id')!;
    const mallory = await mint('agent:mallory');
    const hijack = await post(
      b.proxy.url,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } },
      { authorization: `Bearer ${mallory}`, 'mcp-session-id': sid },
    );
    assert.equal(hijack.status, 403);
    assert.equal(
      ((await hijack.json()) as { error: { data: { code: string } } }).error.data.code,
      'ERR_GRANT_CLAIM',
    );
    await b.close();
  });

  it('intentguard http -- <command> from the command line; neither or both of --upstream and a command is a clear error', async () => {
    const port = await freePort();
    const p = spawn(
      process.execPath,
      [
        'bin/intentguard.js',
        'http',
        '--listen',
        `127.0.0.1:${port}`,
        '--intent',
        intentFile,
        '--no-record',
        '--',
        process.execPath,
        'test/fixtures/raw-server.mjs',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    p.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    try {
      await waitFor(() => err.includes('a process per session'), 'the proxy to listen', 60_000);
      const r = await post(`http://127.0.0.1:${port}/mcp`, INIT);
      assert.equal(r.status, 200);
      assert.equal(
        ((await r.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name,
        'raw',
      );
    } finally {
      p.kill('SIGTERM');
    }
    const neither = spawnSync(
      process.execPath,
      ['bin/intentguard.js', 'http', '--listen', '127.0.0.1:0', '--intent', intentFile],
      { encoding: 'utf8' },
    );
    assert.notEqual(neither.status, 0);
    assert.match(neither.stderr, /ERR_CONFIG: give either --upstream URL or a stdio server command after --/);
    const both = spawnSync(
      process.execPath,
      [
        'bin/intentguard.js',
        'http',
        '--listen',
        '127.0.0.1:0',
        '--upstream',
        'http://127.0.0.1:1/mcp',
        '--',
        'node',
        'x.mjs',
      ],
      { encoding: 'utf8' },
    );
    assert.match(both.stderr, /ERR_CONFIG/);
  });
});
