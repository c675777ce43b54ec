// `subscriptions/listen` (2026-07-28, basic/patterns/subscriptions.mdx) through `intentguard http`: the
// listen stream is tapped like the 2025 GET stream — the request and every notification on it are
// events of the grant's one intentguard session, decided before they reach the client — and a stateless
// request made meanwhile is answered on its own POST, never on the listen stream. Real SDK v2 McpServer
// behind createMcpHandler (its own change bus: `notify.toolsChanged()`).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { META } from '../../src/era/keys.js';
import { post } from './fixtures/post.js';
import { join } from 'node:path';
import { openStore } from '../../src/store/db.js';
import { stdioPeer, wsPeer } from './fixtures/peers.js';
import { bridgeStack, httpStack, intentDir, wsStack } from './fixtures/stack.js';
import { notesServer } from './fixtures/v2-tools.js';

const { dir, remove } = intentDir('ig-era-listen-', 'purpose: echo things\ntools: [echo]\n');
after(remove);

/** The notes server behind createMcpHandler, with the handler's change notifier. */
async function listeningServer() {
  const handler = createMcpHandler(notesServer);
  const node = toNodeHandler(handler);
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      void node(req, res, text ? JSON.parse(text) : undefined);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    notify: handler.notify,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

/** POST one 2026-07-28 request; the answer as it comes (read it as a stream or whole). */
const send = (
  url: string,
  id: string,
  method: string,
  params: Record<string, unknown>,
  signal?: AbortSignal,
) =>
  fetch(url, {
    method: 'POST',
    ...(signal && { signal }),
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(typeof params.name === 'string' && { 'mcp-name': params.name }),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method,
      params: { ...params, _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} } },
    }),
  });

/** Open a listen stream; `next()` reads its next JSON-RPC message. */
async function listen(url: string, signal: AbortSignal) {
  const filter = { notifications: { toolsListChanged: true } };
  const res = await send(url, 'listen-1', 'subscriptions/listen', filter, signal);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const seen: Record<string, unknown>[] = [];
  return {
    seen,
    async next(): Promise<Record<string, unknown>> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (!data) continue;
          const m = JSON.parse(data) as Record<string, unknown>;
          seen.push(m);
          return m;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the listen stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

describe('era: subscriptions/listen through intentguard http', () => {
  it('the listen stream is tapped in the session; a request made meanwhile is answered on its own POST', async () => {
    const upstream = await listeningServer();
    const s = await httpStack(upstream, dir);
    const stop = new AbortController();
    try {
      const stream = await listen(s.url, stop.signal);
      const ack = await stream.next();
      assert.equal(ack.method, 'notifications/subscriptions/acknowledged', JSON.stringify(ack));
      const echo = await post(s.url, 'tools/call', { name: 'echo', arguments: { text: 'meanwhile' } });
      assert.deepEqual(echo.body.result?.content, [{ type: 'text', text: 'meanwhile' }]);
      upstream.notify.toolsChanged();
      const changed = await stream.next();
      assert.equal(changed.method, 'notifications/tools/list_changed', JSON.stringify(changed));
      assert.deepEqual(
        stream.seen.map((m) => m.method),
        ['notifications/subscriptions/acknowledged', 'notifications/tools/list_changed'],
        'only the subscription’s notifications on the listen stream',
      );
      // Tapped: the listen request and each notification on its stream are events of the one session
      // the stateless tools/call joined, decided (and recorded) like the GET stream's.
      const listenReq = s.events.find((e) => e.method === 'subscriptions/listen' && e.kind === 'request');
      assert.ok(listenReq, 'the listen request is an event');
      const onStream = s.events.filter(
        (e) => e.dir === 's2c' && e.kind === 'notification' && e.session === listenReq.session,
      );
      assert.deepEqual(
        onStream.map((e) => e.method),
        ['notifications/subscriptions/acknowledged', 'notifications/tools/list_changed'],
      );
      const call = s.events.find((e) => e.method === 'tools/call' && e.kind === 'request');
      assert.equal(call?.session, listenReq.session, 'one intentguard session');
    } finally {
      stop.abort();
      await s.close();
    }
  });
  it('intentguard http -- <command>: the listen stream carries the list change a tool call made, tapped', async () => {
    const all = intentDir('ig-era-listen-all-', "purpose: change the tools\ntools: '*'\n");
    const s = await bridgeStack(all.dir);
    const stop = new AbortController();
    try {
      const stream = await listen(s.url, stop.signal);
      const ack = await stream.next();
      assert.equal(ack.method, 'notifications/subscriptions/acknowledged', JSON.stringify(ack));
      // The call that changed the tools is answered on its own POST, without the subscription's notification.
      const added = await send(s.url, 'add-1', 'tools/call', { name: 'add_tool', arguments: {} });
      const answer = await added.text();
      assert.match(answer, /extra_1/);
      assert.doesNotMatch(answer, /list_changed/, 'the list change belongs to the listen stream');
      const changed = await stream.next();
      assert.equal(changed.method, 'notifications/tools/list_changed', JSON.stringify(changed));
      const listenReq = s.events.find((e) => e.method === 'subscriptions/listen' && e.kind === 'request');
      assert.ok(listenReq, 'the listen request is an event');
      assert.ok(
        s.events.some(
          (e) =>
            e.dir === 's2c' &&
            e.method === 'notifications/tools/list_changed' &&
            e.session === listenReq.session,
        ),
        'the change notification is an event of the session',
      );
    } finally {
      stop.abort();
      await s.close();
      all.remove();
    }
  });
  it('intentguard stdio and intentguard ws: the listen request and its notifications are tapped', async () => {
    const all = intentDir('ig-era-listen-line-', "purpose: change the tools\ntools: '*'\n");
    const meta = { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} };
    const listenReq = (id: string) => ({
      jsonrpc: '2.0',
      id,
      method: 'subscriptions/listen',
      params: { notifications: { toolsListChanged: true }, _meta: meta },
    });
    const addTool = (id: string) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'add_tool', arguments: {}, _meta: meta },
    });
    /** Listen, change the tools, and hear of it: every message also an event of the session. */
    const walk = async (p: ReturnType<typeof stdioPeer> | Awaited<ReturnType<typeof wsPeer>>) => {
      void p.ask(listenReq('l1'));
      await p.until('notifications/subscriptions/acknowledged');
      assert.match(JSON.stringify(await p.ask(addTool('a1'))), /extra_1/);
      await p.until('notifications/tools/list_changed');
    };
    const db = join(all.dir, 'stdio.db');
    const stdio = stdioPeer(['--intent', all.intentFile, '--db', db]);
    try {
      await walk(stdio);
    } finally {
      await stdio.close();
    }
    const store = openStore(db);
    try {
      const methods = store.db
        .prepare<[], { dir: string; method: string | null }>('SELECT dir, method FROM events ORDER BY seq')
        .all()
        .map((e) => `${e.dir} ${e.method}`);
      for (const m of [
        'c2s subscriptions/listen',
        's2c notifications/subscriptions/acknowledged',
        's2c notifications/tools/list_changed',
      ])
        assert.ok(methods.includes(m), `${m} recorded: ${methods.join(', ')}`);
    } finally {
      store.close();
    }
    const ws = await wsStack(all.dir);
    const peer = await wsPeer(ws.url);
    try {
      await walk(peer);
      const seen = ws.events.map((e) => `${e.dir} ${e.method}`);
      assert.ok(seen.includes('c2s subscriptions/listen'));
      assert.ok(seen.includes('s2c notifications/tools/list_changed'));
    } finally {
      peer.close();
      await ws.close();
      all.remove();
    }
  });
});
