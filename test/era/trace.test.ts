// Trace context in a 2026-07-28 request's `_meta` (SEP-414: traceparent, tracestate) is on the event the
// monitor records and reaches the server unchanged, on every carrier: `intentguard http` (stateless, and
// `-- <command>`), `intentguard stdio`, `intentguard ws` and the in-process tap. Real SDK v2 server; what
// it was sent is read from its own wire, or from its `trace` tool, which says what its _meta carried.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { createMonitor, parseIntent, tap, type SessionEvent } from '../../src/index.js';
import { META } from '../../src/era/keys.js';
import { createEraGate } from '../../src/mrtr/gate.js';
import { deriveStateKey } from '../../src/mrtr/state.js';
import { join } from 'node:path';
import { openStore } from '../../src/store/db.js';
import { stdioPeer, wsPeer, type Msg } from './fixtures/peers.js';
import { post, type Answer } from './fixtures/post.js';
import { bridgeStack, httpStack, intentDir, wsStack } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const { dir, remove, intentFile } = intentDir(
  'ig-era-trace-',
  'purpose: echo and trace\ntools: [echo, trace]\n',
);
after(remove);
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TRACESTATE = 'vendor=opaque,other=1';
const trace = { traceparent: TRACEPARENT, tracestate: TRACESTATE };

const metaOf = (m: unknown) => (m as { params?: { _meta?: Record<string, unknown> } }).params?._meta ?? {};
const callEvent = (events: SessionEvent[]) =>
  events.find((e) => e.dir === 'c2s' && e.method === 'tools/call' && e.kind === 'request');

/** A `trace` tools/call carrying the trace context. */
const traced = (id: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'trace',
    arguments: {},
    _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {}, ...trace },
  },
});
/** What the server's `trace` tool said it was sent. */
const serverSaw = (m: Msg | Answer['body']) =>
  JSON.parse((m.result as { content: { text: string }[] }).content[0]!.text) as Record<string, unknown>;

describe('era: trace context in _meta is recorded and passed on unchanged', () => {
  it('intentguard stdio (and its record), intentguard ws, intentguard http -- <command>', async () => {
    const db = join(dir, 'stdio.db');
    const stdio = stdioPeer(['--intent', intentFile, '--db', db]);
    try {
      assert.deepEqual(serverSaw(await stdio.ask(traced('s1'))), trace);
    } finally {
      await stdio.close();
    }
    const store = openStore(db);
    try {
      const raw = store.db
        .prepare<[], { raw: string }>(
          "SELECT raw FROM events WHERE method = 'tools/call' AND kind = 'request'",
        )
        .get()!.raw;
      assert.deepEqual(metaOf(JSON.parse(raw)), metaOf(traced('s1')));
    } finally {
      store.close();
    }

    const ws = await wsStack(dir);
    const peer = await wsPeer(ws.url);
    try {
      assert.deepEqual(serverSaw(await peer.ask(traced('w1'))), trace);
      assert.deepEqual(metaOf(callEvent(ws.events)!.raw), metaOf(traced('w1')));
    } finally {
      peer.close();
      await ws.close();
    }

    const bridge = await bridgeStack(dir);
    try {
      const r = await post(bridge.url, 'tools/call', {
        name: 'trace',
        arguments: {},
        _meta: traced('b1').params._meta,
      });
      assert.deepEqual(serverSaw(r.body), trace, JSON.stringify(r.body));
      assert.deepEqual(metaOf(callEvent(bridge.events)!.raw), traced('b1').params._meta);
    } finally {
      await bridge.close();
    }
  });

  it('intentguard http (stateless)', async () => {
    const upstream = await v2HttpServer();
    const s = await httpStack(upstream, dir);
    try {
      const r = await post(s.url, 'tools/call', {
        name: 'echo',
        arguments: { text: 't' },
        _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {}, ...trace },
      });
      assert.deepEqual(r.body.result?.content, [{ type: 'text', text: 't' }], JSON.stringify(r.body));
      const sent = upstream.received.find((m) => m.method === 'tools/call')!;
      assert.equal(metaOf(sent).traceparent, TRACEPARENT);
      assert.equal(metaOf(sent).tracestate, TRACESTATE);
      const event = callEvent(s.events)!;
      assert.equal(metaOf(event.raw).traceparent, TRACEPARENT);
      assert.equal(metaOf(event.raw).tracestate, TRACESTATE);
      // And in the record, as the event was written.
      await s.runtime.recorder!.flush();
      const row = s.runtime
        .store!.db.prepare<[], { raw: string }>(
          "SELECT raw FROM events WHERE method = 'tools/call' AND dir = 'c2s' AND kind = 'request'",
        )
        .get();
      assert.equal(metaOf(JSON.parse(row!.raw)).traceparent, TRACEPARENT);
      assert.equal(metaOf(JSON.parse(row!.raw)).tracestate, TRACESTATE);
    } finally {
      await s.close();
    }
  });

  it('the in-process tap', async () => {
    const gate = createEraGate({ key: deriveStateKey(Buffer.alloc(32, 3)) });
    const monitor = createMonitor({ approver: gate.approver() });
    const events: SessionEvent[] = [];
    monitor.events$.subscribe((e) => events.push(e));
    const inner = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', 'test/era/fixtures/v2-server.ts'],
      cwd: process.cwd(),
      stderr: 'ignore',
    });
    const sent: unknown[] = [];
    const innerSend = inner.send.bind(inner);
    inner.send = (m) => {
      sent.push(m);
      return innerSend(m);
    };
    const t = tap(inner as unknown as Transport, monitor, {
      side: 'client',
      intent: parseIntent({ purpose: 'echo things', tools: ['echo'] }),
      era: gate,
    });
    const answered = new Promise<unknown>((resolve) => (t.onmessage = resolve));
    await t.start();
    try {
      await t.send({
        jsonrpc: '2.0',
        id: 'tr1',
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { text: 'tap' },
          _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {}, ...trace },
        },
      } as never);
      await answered;
      assert.deepEqual(metaOf(sent[0]), metaOf(callEvent(events)!.raw));
      assert.equal(metaOf(sent[0]).traceparent, TRACEPARENT);
      assert.equal(metaOf(sent[0]).tracestate, TRACESTATE);
    } finally {
      await t.close();
      monitor.close();
    }
  });
});
