// Trace context in a 2026-07-28 request's `_meta` (SEP-414: traceparent, tracestate) is on the event the
// monitor records and reaches the server unchanged, through `intentguard http` (stateless) and the
// in-process tap. Real SDK v2 server; what it was sent is read from its own wire.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { createMonitor, parseIntent, tap, type SessionEvent } from '../../src/index.js';
import { META } from '../../src/era/keys.js';
import { createEraGate } from '../../src/mrtr/gate.js';
import { deriveStateKey } from '../../src/mrtr/state.js';
import { post } from './fixtures/post.js';
import { httpStack, intentDir } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const { dir, remove } = intentDir('ig-era-trace-', 'purpose: echo things\ntools: [echo]\n');
after(remove);
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TRACESTATE = 'vendor=opaque,other=1';
const trace = { traceparent: TRACEPARENT, tracestate: TRACESTATE };

const metaOf = (m: unknown) => (m as { params?: { _meta?: Record<string, unknown> } }).params?._meta ?? {};
const callEvent = (events: SessionEvent[]) =>
  events.find((e) => e.dir === 'c2s' && e.method === 'tools/call' && e.kind === 'request');

describe('era: trace context in _meta is recorded and passed on unchanged', () => {
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
