// Issue 11 §3: a batch with one allowed and one refused call. The refused element was answered, the
// allowed ones were forwarded as a batch that the SDK's stdio server drops, so they waited until the
// server exited. Now every element is decided on its own, allowed ones travel as single messages, and
// the batch is answered once, as an array holding exactly one answer per request: stdio, ws and http.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { RPC_CODES, createMonitor, parseIntent } from '../../src/index.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { listenWebSocket } from '../../src/transports/ws-transport.js';
import { startWsProxy } from '../../src/transports/ws.js';
import { everythingHttp } from '../helpers/everything-http.js';
import { demoServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/wait.js';
import { EVERYTHING, INIT, stdioProxy } from './wire.js';
import { enforcingRuntime } from '../helpers/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-batches-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things\ntools: [echo]\n');

type Answer = {
  id?: unknown;
  result?: { content?: unknown };
  error?: { code: number; data?: { code?: string } };
};

/** A batch: an allowed call, a refused one, a duplicate id, a ping, an invalid element and a notification. */
const BATCH = (arg: 'message' | 'text') => [
  {
    jsonrpc: '2.0',
    id: 'ok',
    method: 'tools/call',
    params: { name: 'echo', arguments: { [arg]: 'in a batch' } },
  },
  {
    jsonrpc: '2.0',
    id: 'no',
    method: 'tools/call',
    params: { name: 'write_file', arguments: { path: '/tmp/x', content: 'x' } },
  },
  { jsonrpc: '2.0', id: 'ok', method: 'ping' },
  { jsonrpc: '2.0', id: 'p', method: 'ping' },
  { jsonrpc: '2.0', id: 'bad', method: 'ping', params: 'not params' },
  { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'none', progress: 1 } },
];

/** One answer per request, as one array: the allowed call answered by the server, the rest as decided. */
function checkBatchAnswer(answers: Answer[]): void {
  assert.ok(Array.isArray(answers), 'the batch is answered with an array');
  const ids = answers.map((a) => a.id).sort();
  assert.deepEqual(
    ids,
    ['bad', 'no', 'ok', 'ok', 'p'],
    'exactly one answer per request element (the duplicate included)',
  );
  const ok = answers.filter((a) => a.id === 'ok');
  assert.ok(
    ok.some((a) => JSON.stringify(a.result?.content ?? null).includes('in a batch')),
    'the allowed call was run and answered',
  );
  assert.ok(
    ok.some((a) => a.error?.data?.code === 'ERR_DUPLICATE_REQUEST_ID'),
    'the duplicate id is refused',
  );
  assert.equal(answers.find((a) => a.id === 'no')!.error!.code, RPC_CODES.DENIED);
  assert.ok(answers.find((a) => a.id === 'p')!.result, 'the ping was answered by the server');
  assert.equal(answers.find((a) => a.id === 'bad')!.error!.data!.code, 'ERR_JSONRPC_PARAMS');
}

describe('batches (issue 11 §3)', () => {
  it('batch over intentguard stdio with server-everything (an SDK server that drops arrays): every element answered, as one array', async () => {
    const p = stdioProxy(intentFile, [process.execPath, EVERYTHING, 'stdio']);
    try {
      p.send(INIT[0]!);
      await p.waitAnswers(0);
      p.send(INIT[1]!);
      p.send(JSON.stringify(BATCH('message')));
      await waitFor(() => p.lines.some((l) => l.startsWith('[')), 'the batch answer', 60_000);
      checkBatchAnswer(JSON.parse(p.lines.find((l) => l.startsWith('['))!) as Answer[]);
    } finally {
      await p.close(); // a failed check must not leave the server process holding the test file open
    }
  });

  it('batch over intentguard ws in front of an SDK McpServer: every element answered, as one array', async () => {
    const upstream = await listenWebSocket({}, (t) => void demoServer().connect(t));
    const runtime = await enforcingRuntime(intentFile);
    const proxy = await startWsProxy({ upstream: upstream.url, runtime });
    const ws = new WebSocket(proxy.url, 'mcp');
    try {
      const frames: unknown[] = [];
      ws.on('message', (d) => frames.push(JSON.parse(String(d))));
      await new Promise((r) => ws.once('open', r));
      ws.send(INIT[0]!);
      await waitFor(() => frames.length >= 1, 'the initialize answer');
      ws.send(INIT[1]!);
      ws.send(JSON.stringify(BATCH('text')));
      await waitFor(() => frames.some(Array.isArray), 'the batch answer', 60_000);
      checkBatchAnswer(frames.find(Array.isArray) as Answer[]);
    } finally {
      ws.close();
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });

  for (const kind of ['in front of a stdio server', 'in front of an HTTP server'] as const) {
    it(`batch over intentguard http ${kind} (server-everything): every element answered, as one array`, async () => {
      const everything = kind === 'in front of an HTTP server' ? await everythingHttp() : undefined;
      const runtime = await enforcingRuntime(intentFile);
      const proxy = await startHttpProxy({
        ...(everything
          ? { upstream: everything.url }
          : { server: { command: process.execPath, args: [EVERYTHING, 'stdio'] } }),
        runtime,
        resource: 'https://ig.test/mcp',
      });
      try {
        const post = (body: unknown, sid?: string) =>
          fetch(proxy.url, {
            method: 'POST',
            body: JSON.stringify(body),
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              ...(sid && { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' }),
            },
          });
        const init = await post(JSON.parse(INIT[0]!));
        const sid = init.headers.get('mcp-session-id')!;
        await init.text();
        await (await post(JSON.parse(INIT[1]!), sid)).text();
        const res = await post(BATCH('message'), sid);
        const text = await res.text();
        // A JSON body, or an event stream whose data lines are the answers.
        const answers = (res.headers.get('content-type') ?? '').includes('text/event-stream')
          ? text
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .flatMap((l) => {
                const m = JSON.parse(l.slice(6)) as unknown;
                return Array.isArray(m) ? m : [m];
              })
          : (JSON.parse(text) as Answer[]);
        // Server notifications (log messages) may travel on the POST's stream too: the answers are what count.
        checkBatchAnswer(
          (answers as Answer[]).filter((m) => m.result !== undefined || m.error !== undefined),
        );
      } finally {
        // Always released, so a failed check cannot leave a server process holding the test file open.
        await proxy.close();
        await runtime.close();
        everything?.stop();
      }
    });
  }

  it('a batch through the in-process tap is decided element by element (the SDK never sends one; the monitor refuses none for being batched)', async () => {
    // The tap carries SDK messages, which are never arrays: a JSON array given to observe() is one invalid message.
    const monitor = createMonitor();
    const s = monitor.open({ intent: parseIntent({ purpose: 'p', tools: ['echo'] }) });
    const out = await s.observe('c2s', [{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
    assert.equal(out.forward, undefined, 'an array is never forwarded undecided');
    assert.equal(out.event?.kind, 'invalid');
    monitor.close();
  });
});
