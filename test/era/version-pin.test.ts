// A session keeps the protocol version it started with, on every carrier (issue 15, "a request whose
// _meta protocol version differs from the one its session started with is decided, not ignored"): a
// 2026-07-28 request on a 2025-11-25 session, or an `initialize` on a session that began 2026-07-28, is
// answered -32022 (ERR_PROTOCOL_VERSION_CHANGED) by intentguard and never reaches the server. The tap
// and legacy HTTP+SSE have their own tests (tap-v2, legacy-sse); here `intentguard stdio`, `intentguard
// ws`, and the 2025 session path of `intentguard http --upstream` and `intentguard http -- <command>`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRuntime } from '../../src/app/runtime.js';
import { META } from '../../src/era/keys.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { everythingHttp } from '../helpers/everything-http.js';
import { lastJson } from '../helpers/v2-http.js';
import { stdioPeer, wsPeer, type Msg } from './fixtures/peers.js';
import { bridgeStack, wsStack } from './fixtures/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-era-pin-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, "purpose: echo things\ntools: '*'\n");

const modern = (id: string, name = 'echo') => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name,
    arguments: { text: id },
    _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} },
  },
});
const initialize = (id: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'pin', version: '1' } },
});
const refusedChange = (m: Msg | undefined) => {
  assert.equal(m?.error?.code, -32022, JSON.stringify(m));
  assert.equal(m?.error?.data?.code, 'ERR_PROTOCOL_VERSION_CHANGED');
};

const stdioProxy = () => stdioPeer(['--intent', intentFile, '--no-record']);

/** POST over the 2025 session path: `sid` once initialized. The answer (JSON, or the SSE's last data line). */
async function postHttp(url: string, body: unknown, sid?: string, version = '2025-11-25') {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(sid && { 'mcp-session-id': sid, 'mcp-protocol-version': version }),
    },
    body: JSON.stringify(body),
  });
  return { sid: res.headers.get('mcp-session-id') ?? sid, body: lastJson<Msg>(await res.text()) };
}

/** A 2025 session over HTTP, then a 2026-07-28 request on it: refused, the server never sees it. */
async function http2025ThenModern(url: string) {
  const init = await postHttp(url, initialize('i1'));
  assert.ok(init.body.result, JSON.stringify(init.body));
  assert.ok(init.sid, 'a 2025 session id');
  await postHttp(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, init.sid);
  // Its headers mirroring the body: the version change is refused (-32022).
  refusedChange((await postHttp(url, modern('m1'), init.sid, '2026-07-28')).body);
  // The session's MCP-Protocol-Version header against a 2026-07-28 body: HeaderMismatch (-32020), as
  // on the stateless path, the stdio bridge and legacy HTTP+SSE.
  const contradicted = (await postHttp(url, modern('m2'), init.sid)).body;
  assert.equal(contradicted.error?.code, -32020, JSON.stringify(contradicted));
  assert.equal(contradicted.error?.data?.code, 'ERR_HEADER_MISMATCH');
  // The session goes on in the era it started with.
  const ok = await postHttp(url, { jsonrpc: '2.0', id: 'l1', method: 'tools/list' }, init.sid);
  assert.ok(ok.body.result, JSON.stringify(ok.body));
}

const runtime = () =>
  createRuntime({ mode: 'enforce', db: false, pack: true, rules: [], intentFile, log: () => undefined });

describe('era: a session keeps its protocol version on every carrier', () => {
  it('intentguard stdio: an initialize after 2026-07-28 requests, and a 2026-07-28 request after initialize, are -32022', async () => {
    const modernFirst = stdioProxy();
    try {
      const ok = await modernFirst.ask(modern('a1'));
      assert.deepEqual(ok.result?.content, [{ type: 'text', text: 'a1' }], JSON.stringify(ok));
      refusedChange(await modernFirst.ask(initialize('a2')));
      const still = await modernFirst.ask(modern('a3'));
      assert.deepEqual(still.result?.content, [{ type: 'text', text: 'a3' }]);
    } finally {
      await modernFirst.close();
    }
    const legacyFirst = stdioProxy();
    try {
      assert.ok((await legacyFirst.ask(initialize('b1'))).result);
      legacyFirst.tell({ jsonrpc: '2.0', method: 'notifications/initialized' });
      refusedChange(await legacyFirst.ask(modern('b2')));
    } finally {
      await legacyFirst.close();
    }
  });

  it('intentguard ws: the same on a WebSocket session', async () => {
    const ws = await wsStack(dir);
    const p = await wsPeer(ws.url);
    try {
      const ok = await p.ask(modern('w1'));
      assert.deepEqual(ok.result?.content, [{ type: 'text', text: 'w1' }], JSON.stringify(ok));
      refusedChange(await p.ask(initialize('w2')));
    } finally {
      p.close();
      await ws.close();
    }
  });

  it('intentguard http --upstream: a 2026-07-28 request on a 2025-11-25 session is -32022 (-32020 when its header contradicts the body)', async () => {
    const upstream = await everythingHttp();
    const rt = await runtime();
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime: rt });
    try {
      await http2025ThenModern(proxy.url);
    } finally {
      await proxy.close();
      await rt.close();
      upstream.stop();
    }
  });

  it('intentguard http -- <command>: a 2026-07-28 request on a 2025-11-25 session is -32022 (-32020 when its header contradicts the body)', async () => {
    const bridge = await bridgeStack(dir);
    try {
      await http2025ThenModern(bridge.url);
    } finally {
      await bridge.close();
    }
  });
});
