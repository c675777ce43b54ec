// Issue 11 §4, first finding: Origin and Host were not checked (DNS rebinding, cross-site requests), and
// `Content-Type` was matched as a substring, so a browser's CORS-safelisted `text/plain; x=application/json`
// POST wrote to server-memory behind `intentguard http`. Each test below is named after the finding.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { runtimeOptions } from '../../src/cli/proxy-commands.js';
import { createFrontDoor } from '../../src/carrier/front-door.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { jsonContentTypeProblem } from '../../src/transports/http/media-type.js';
import type { RuntimeOptions } from '../../src/transports/runtime.js';
import { listenWebSocket } from '../../src/transports/ws-transport.js';
import { startWsProxy } from '../../src/transports/ws.js';
import { httpUpstream, sseUpstream } from '../helpers/http-upstream.js';
import { demoServer } from '../helpers/servers.js';
import { INIT, JSON_HEADERS, raw, rawSocket } from './raw-http.js';
import { enforcingRuntime } from '../helpers/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-door-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(
  intentFile,
  'purpose: keep notes in the memory graph\ntools: [create_entities, read_graph, echo, read_notes]\n',
);
const memoryServer = 'node_modules/@modelcontextprotocol/server-memory/dist/index.js';
const EVIL = 'https://evil.example';
const BROWSER_TEXT = 'text/plain; x=application/json';

const runtimeFor = (extra: Partial<RuntimeOptions> = {}) => enforcingRuntime(intentFile, extra);

const call = (id: number, name: string, args: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('HTTP front door: Origin, Host and Content-Type (issue 11 §4)', () => {
  it('cross-site POST to server-memory (Origin evil, text/plain; x=application/json, rebinding Host) writes nothing', async () => {
    const memoryFile = join(dir, 'memory.jsonl');
    const runtime = await runtimeFor();
    const proxy = await startHttpProxy({
      server: {
        command: process.execPath,
        args: [memoryServer],
        env: { ...process.env, MEMORY_FILE_PATH: memoryFile },
      },
      runtime,
    });
    const { port } = new URL(proxy.url);
    const entity = (name: string) => ({
      entities: [{ name, entityType: 'note', observations: ['planted'] }],
    });
    try {
      // The issue's probe, as a browser sends it: no session may even start.
      const probe = await raw(proxy.url, {
        headers: {
          origin: EVIL,
          'content-type': BROWSER_TEXT,
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify(INIT),
      });
      assert.equal(probe.status, 403);
      assert.equal(probe.code, 'ERR_ORIGIN');
      assert.equal(
        (
          await raw(proxy.url, {
            headers: { ...JSON_HEADERS, 'content-type': BROWSER_TEXT },
            body: JSON.stringify(INIT),
          })
        ).code,
        'ERR_CONTENT_TYPE',
      );
      assert.equal(
        (
          await raw(proxy.url, {
            headers: { ...JSON_HEADERS, host: `rebind.evil.example:${port}` },
            body: JSON.stringify(INIT),
          })
        ).code,
        'ERR_HOST',
      );
      assert.equal(runtime.monitor.sessions().length, 0, 'no refused request opened a session');
      // A legitimate session exists; the attacker's writes into it are refused the same way.
      const init = await raw(proxy.url, { headers: JSON_HEADERS, body: JSON.stringify(INIT) });
      assert.equal(init.status, 200);
      const sid = init.headers['mcp-session-id'] as string;
      const inSession = { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
      await raw(proxy.url, {
        headers: inSession,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      });
      const attacks = [
        { ...inSession, origin: EVIL, 'content-type': BROWSER_TEXT },
        { ...inSession, origin: EVIL },
        { ...inSession, 'content-type': BROWSER_TEXT },
        { ...inSession, host: `rebind.evil.example:${port}` },
        { ...inSession, origin: 'null' },
      ];
      for (const [i, headers] of attacks.entries()) {
        const r = await raw(proxy.url, {
          headers,
          body: call(10 + i, 'create_entities', entity(`attack-${i}`)),
        });
        assert.ok(r.status === 403 || r.status === 415, `attack ${i} refused (got ${r.status})`);
      }
      const graph = await raw(proxy.url, { headers: inSession, body: call(2, 'read_graph', {}) });
      assert.doesNotMatch(graph.body, /attack-/, 'nothing the attacks sent reached the server');
      // The same write, sent properly, does reach it: the probe above could have seen a write.
      await raw(proxy.url, { headers: inSession, body: call(3, 'create_entities', entity('legit')) });
      assert.match(
        (await raw(proxy.url, { headers: inSession, body: call(4, 'read_graph', {}) })).body,
        /legit/,
      );
      assert.ok(existsSync(memoryFile) && !readFileSync(memoryFile, 'utf8').includes('attack-'));
    } finally {
      await proxy.close();
      await runtime.close();
    }
  });

  it('every HTTP path checks Origin and Host first: --upstream, the stdio bridge, legacy SSE GET and POST, the metadata endpoint, WebSocket upgrade', async () => {
    const upstream = await httpUpstream({ json: true });
    const sse = await sseUpstream();
    const ws = await listenWebSocket({}, (t) => void demoServer().connect(t));
    const runtime = await runtimeFor({ allowedOrigins: ['https://app.example.com'] });
    const viaUpstream = await startHttpProxy({ upstream: upstream.url, runtime });
    const viaBridge = await startHttpProxy({
      server: {
        command: process.execPath,
        args: [memoryServer],
        env: { ...process.env, MEMORY_FILE_PATH: join(dir, 'm2.jsonl') },
      },
      runtime,
    });
    const viaSse = await startHttpProxy({ upstream: sse.url, runtime });
    const viaWs = await startWsProxy({ upstream: ws.url, runtime });
    const upgrade = (url: string, headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const c = new WebSocket(url, 'mcp', { headers });
        c.on('open', () => {
          c.close();
          resolve(101);
        });
        c.on('unexpected-response', (_req, res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        c.on('error', () => undefined);
      });
    try {
      const posts = [
        viaUpstream.url,
        viaBridge.url,
        `${new URL(viaSse.url).origin}/messages?sessionId=nope`,
        `${new URL(viaUpstream.url).origin}/.well-known/oauth-protected-resource/mcp`,
      ];
      const seenBefore = upstream.seen.length + sse.seen.length;
      for (const url of posts) {
        const port = new URL(url).port;
        const method = url.includes('.well-known') ? 'GET' : 'POST';
        const body = method === 'POST' ? JSON.stringify(INIT) : undefined;
        const send = (h: Record<string, string>) =>
          raw(url, { method, headers: { ...JSON_HEADERS, ...h }, ...(body !== undefined && { body }) });
        assert.equal((await send({ origin: EVIL })).code, 'ERR_ORIGIN', `${url}: foreign Origin`);
        assert.equal(
          (await send({ origin: 'https://app.example.com.evil.test' })).code,
          'ERR_ORIGIN',
          `${url}: look-alike Origin`,
        );
        assert.equal(
          (await send({ 'sec-fetch-site': 'cross-site' })).code,
          'ERR_ORIGIN',
          `${url}: cross-site browser request without Origin`,
        );
        assert.equal(
          (await send({ host: `rebind.evil.example:${port}` })).code,
          'ERR_HOST',
          `${url}: rebinding Host`,
        );
        assert.equal(
          (await send({ host: `localhost:${port}`, origin: 'https://app.example.com' })).status === 403,
          false,
          `${url}: listed Origin, loopback Host`,
        );
      }
      // A listed origin's browser can actually use the proxy: its preflight is answered and answers carry CORS.
      const preflight = await raw(viaUpstream.url, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, mcp-session-id',
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.match(String(preflight.headers['access-control-allow-headers']), /mcp-session-id/);
      const fromApp = await raw(viaUpstream.url, {
        headers: { ...JSON_HEADERS, origin: 'https://app.example.com' },
        body: JSON.stringify(INIT),
      });
      assert.equal(fromApp.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.match(String(fromApp.headers['access-control-expose-headers']), /mcp-session-id/);
      const evilPreflight = await raw(viaUpstream.url, {
        method: 'OPTIONS',
        headers: { origin: EVIL, 'access-control-request-method': 'POST' },
      });
      assert.equal(evilPreflight.status, 403);
      assert.equal(evilPreflight.headers['access-control-allow-origin'], undefined);
      // Legacy SSE GET: the stream (and its upstream stream) is never opened for a foreign page.
      const sseGet = (h: Record<string, string>) =>
        raw(viaSse.url, { method: 'GET', headers: { accept: 'text/event-stream', ...h } });
      assert.equal((await sseGet({ origin: EVIL })).code, 'ERR_ORIGIN');
      assert.equal(
        (await sseGet({ host: `rebind.evil.example:${new URL(viaSse.url).port}` })).code,
        'ERR_HOST',
      );
      assert.equal((await sseGet({ 'sec-fetch-site': 'same-site' })).code, 'ERR_ORIGIN');
      const opened = await sseGet({});
      assert.equal(opened.status, 200, 'a non-browser client opens the stream');
      assert.match(opened.body, /event: endpoint/);
      // Upstream saw only the requests that passed the door (the well-known probe never goes upstream).
      const passed = upstream.seen.length + sse.seen.length - seenBefore;
      assert.ok(passed <= 3, `only allowed requests went upstream (${passed})`);
      assert.ok(
        !upstream.seen.some((r) => r.headers.origin === EVIL || String(r.headers.host).includes('evil')),
      );
      assert.ok(!sse.seen.some((r) => r.headers.origin === EVIL || String(r.headers.host).includes('evil')));
      // WebSocket upgrade.
      const wsPort = new URL(viaWs.url).port;
      assert.equal(await upgrade(viaWs.url, { origin: EVIL }), 403);
      assert.equal(await upgrade(viaWs.url, { host: `rebind.evil.example:${wsPort}` }), 403);
      assert.equal(await upgrade(viaWs.url, { origin: 'https://app.example.com' }), 101);
      assert.equal(await upgrade(viaWs.url, {}), 101);
    } finally {
      await viaUpstream.close();
      await viaBridge.close();
      await viaSse.close();
      await viaWs.close();
      await runtime.close();
      await upstream.close();
      await sse.close();
      await ws.close();
    }
  });

  it('Host must name the listen address on its port (loopback equivalents included) or an allowed host', async () => {
    const upstream = await httpUpstream({ json: true });
    const runtime = await runtimeFor({ allowedHosts: ['mcp.corp.example', 'gw.corp.example:8443'] });
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime });
    const port = Number(new URL(proxy.url).port);
    // Refused at the door is 403; what upstream makes of an accepted Host (it is passed through) is its business.
    const status = async (host: string) => {
      const r = await raw(proxy.url, { headers: { ...JSON_HEADERS, host }, body: JSON.stringify(INIT) });
      return r.status === 403 ? (assert.equal(r.code, 'ERR_HOST'), 403) : 'passed';
    };
    // Bound to every interface: this machine's addresses and the loopback names; bound to [::1]: its names.
    const wildcard = createFrontDoor({ listenHost: '0.0.0.0' });
    assert.equal(wildcard.check({ host: '127.0.0.1:9' }, 9), undefined);
    assert.equal(wildcard.check({ host: 'localhost:9' }, 9), undefined);
    assert.equal(wildcard.check({ host: 'rebind.evil.example:9' }, 9)?.code, 'ERR_HOST');
    const v6 = createFrontDoor({ listenHost: '::1' });
    assert.equal(v6.check({ host: '[::1]:9' }, 9), undefined);
    assert.equal(v6.check({ host: 'localhost:9' }, 9), undefined);
    assert.equal(v6.check({ host: '[::2]:9' }, 9)?.code, 'ERR_HOST');
    const named = createFrontDoor({ listenHost: 'gw.internal' });
    assert.equal(named.check({ host: 'gw.internal:9' }, 9), undefined);
    assert.equal(
      named.check({ host: 'localhost:9' }, 9)?.code,
      'ERR_HOST',
      'a named listen address is that name only',
    );
    try {
      for (const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `LOCALHOST:${port}`,
        `localhost.:${port}`,
        `[::1]:${port}`,
        `[0:0:0:0:0:0:0:1]:${port}`,
        'mcp.corp.example',
        `mcp.corp.example:${port}`,
        'MCP.corp.example.:443',
        'gw.corp.example:8443',
      ]) {
        assert.equal(await status(host), 'passed', `accepted: ${host}`);
      }
      // Node keeps the first of two Host headers: a second one is refused, not ignored.
      const head = (extra: string) =>
        `POST /mcp HTTP/1.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n${extra}`;
      const twice = await rawSocket(
        proxy.url,
        head(`host: 127.0.0.1:${port}\r\nhost: rebind.evil.example`),
        JSON.stringify(INIT),
      );
      assert.deepEqual(twice, { status: 403, code: 'ERR_HOST' });
      const twoOrigins = await rawSocket(
        proxy.url,
        head(`host: 127.0.0.1:${port}\r\norigin: http://127.0.0.1:${port}\r\norigin: ${EVIL}`),
        JSON.stringify(INIT),
      );
      assert.deepEqual(twoOrigins, { status: 403, code: 'ERR_ORIGIN' });
      for (const host of [
        'rebind.evil.example',
        `rebind.evil.example:${port}`,
        `127.0.0.1:${port + 1}`,
        'localhost',
        `127.0.0.1.evil.example:${port}`,
        `localhost:${port}@evil.example`,
        'gw.corp.example',
        'gw.corp.example:443',
        `sub.mcp.corp.example:${port}`,
        `[::1`,
        `localhost:${port}:1`,
        '',
      ]) {
        assert.equal(await status(host), 403, `refused: ${JSON.stringify(host)}`);
      }
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });

  it("a browser Origin must be listed exactly (scheme, host, port), normalised; by default only intentguard's own origin passes", () => {
    const open = createFrontDoor({ listenHost: '127.0.0.1' });
    const listed = createFrontDoor({
      listenHost: '127.0.0.1',
      allowedOrigins: ['https://app.example.com', 'vscode-webview://abc', 'http://localhost:6274'],
    });
    const check = (door: typeof open, origin: string | undefined) =>
      door.check({ host: '127.0.0.1:9', ...(origin !== undefined && { origin }) }, 9)?.code;
    assert.equal(check(open, undefined), undefined, 'a non-browser client (no Origin) passes');
    // Its own origin (same-origin: a page only intentguard itself could serve) passes; every other is refused.
    for (const origin of ['http://127.0.0.1:9', 'http://localhost:9', 'http://[::1]:9'])
      assert.equal(check(open, origin), undefined, `own origin ${origin}`);
    for (const origin of [
      'http://127.0.0.1:10',
      'http://localhost:3000',
      'https://localhost:9',
      'http://evil.example:9',
      EVIL,
      'null',
      'file://',
    ]) {
      assert.equal(check(open, origin), 'ERR_ORIGIN', `default refuses ${origin}`);
    }
    for (const origin of [
      'https://app.example.com',
      'https://APP.example.com:443',
      'https://app.example.com/',
      'vscode-webview://abc',
      'http://localhost:6274',
    ]) {
      assert.equal(check(listed, origin), undefined, `listed: ${origin}`);
    }
    for (const origin of [
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://app.example.com.evil.test',
      'https://evil.test#https://app.example.com',
      'https://user@app.example.com',
      'vscode-webview://abcd',
      'http://localhost:6275',
      'null',
    ]) {
      assert.equal(check(listed, origin), 'ERR_ORIGIN', `refused: ${origin}`);
    }
    // Malformed entries stop intentguard at start, never silently allow.
    for (const bad of [['https://app.example.com/path'], ['*'], ['app.example.com']]) {
      assert.throws(
        () => createFrontDoor({ listenHost: '127.0.0.1', allowedOrigins: bad }),
        (e: unknown) => (e as { code?: string }).code === 'ERR_CONFIG',
      );
    }
    assert.throws(
      () => createFrontDoor({ listenHost: '127.0.0.1', allowedHosts: ['https://x.example'] }),
      (e: unknown) => (e as { code?: string }).code === 'ERR_CONFIG',
    );
  });

  it('Content-Type is parsed as a media type: exactly application/json, charset utf-8 only if given (415 ERR_CONTENT_TYPE otherwise), on every POST path', async () => {
    const upstream = await httpUpstream({ json: true });
    const runtime = await runtimeFor();
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime });
    const bridge = await startHttpProxy({
      server: {
        command: process.execPath,
        args: [memoryServer],
        env: { ...process.env, MEMORY_FILE_PATH: join(dir, 'm3.jsonl') },
      },
      runtime,
    });
    const accepted = [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON;charset="UTF-8"',
      'application/json ; charset=utf-8 ',
      'application/json;',
    ];
    const refused = [
      BROWSER_TEXT,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=application/json',
      'application/json-seq',
      'application/jsonx',
      'application/json; charset=latin1',
      'application/json; x=1',
      'application/json; charset=utf-8; charset=utf-8',
      'application/json, text/plain',
      'application/json; charset',
      'application/json; charset="utf-8',
      'application/ json',
      '/json',
      'application/json\u0000',
      ['application/json', 'text/plain'],
      '',
    ];
    try {
      for (const url of [proxy.url, bridge.url]) {
        for (const type of accepted) {
          const r = await raw(url, {
            headers: { accept: JSON_HEADERS.accept, 'content-type': type },
            body: JSON.stringify(INIT),
          });
          assert.equal(r.status, 200, `accepted ${JSON.stringify(type)}: ${r.body.slice(0, 200)}`);
        }
        const before = upstream.seen.length;
        for (const type of refused) {
          const r = await raw(url, {
            headers: { accept: JSON_HEADERS.accept, ...(type !== '' && { 'content-type': type }) },
            body: JSON.stringify(INIT),
          }).catch((e: Error) => ({ status: -1, code: e.message }));
          // Node itself refuses a header value with a NUL byte before sending it: also never delivered.
          if (r.status === -1) continue;
          assert.equal(r.status, 415, `refused ${JSON.stringify(type)}`);
          assert.equal(r.code, 'ERR_CONTENT_TYPE');
        }
        assert.equal(upstream.seen.length, before, 'nothing refused reached upstream');
      }
    } finally {
      await proxy.close();
      await bridge.close();
      await runtime.close();
      await upstream.close();
    }
  });

  it('Content-Type acceptance is exactly the media type application/json with at most one charset=utf-8 (property)', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
    const param = fc.tuple(
      fc.oneof(fc.constant('charset'), token),
      fc.oneof(fc.constant('utf-8'), fc.constant('UTF-8'), fc.constant('"utf-8"'), token),
    );
    const type = fc.oneof(fc.constant('application'), fc.constant('APPLICATION'), fc.constant('text'), token);
    const subtype = fc.oneof(fc.constant('json'), fc.constant('Json'), fc.constant('plain'), token);
    fc.assert(
      fc.property(type, subtype, fc.array(param, { maxLength: 3 }), (t, st, params) => {
        const value = `${t}/${st}${params.map(([k, v]) => `; ${k}=${v}`).join('')}`;
        const expected =
          t.toLowerCase() === 'application' &&
          st.toLowerCase() === 'json' &&
          params.length <= 1 &&
          params.every(
            ([k, v]) => k.toLowerCase() === 'charset' && v.replace(/"/g, '').toLowerCase() === 'utf-8',
          );
        assert.equal(jsonContentTypeProblem(value) === undefined, expected, value);
      }),
      { numRuns: 2000 },
    );
  });

  it('--allowed-origins and --allowed-hosts come from flags or intentguard.yaml; the CLI proxy enforces them', async () => {
    const config = join(dir, 'intentguard.yaml');
    writeFileSync(
      config,
      'allowedOrigins: [https://app.example.com]\nallowedHosts: [mcp.corp.example]\nmaxSessionsPerAgent: 3\n',
    );
    const fromFile = runtimeOptions({ config, record: false });
    assert.deepEqual(fromFile.allowedOrigins, ['https://app.example.com']);
    assert.deepEqual(fromFile.allowedHosts, ['mcp.corp.example']);
    assert.equal(fromFile.maxSessionsPerAgent, 3);
    assert.deepEqual(
      runtimeOptions({ config, allowedOrigins: ['https://other.example'], record: false }).allowedOrigins,
      ['https://other.example'],
      'flags win',
    );
    writeFileSync(config, 'allowedOrigins: https://app.example.com\n');
    assert.throws(
      () => runtimeOptions({ config }),
      (e: unknown) => (e as { code?: string }).code === 'ERR_CONFIG',
    );

    const child = spawn(
      process.execPath,
      [
        'bin/intentguard.js',
        'http',
        '--listen',
        '127.0.0.1:0',
        '--no-record',
        '--intent',
        intentFile,
        '--allowed-origins',
        'https://app.example.com,https://two.example',
        '--allowed-hosts',
        'mcp.corp.example',
        '--',
        process.execPath,
        memoryServer,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
          const m = /intentguard http: (http:\/\/\S+)/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.on('exit', () => reject(new Error(`exited: ${err}`)));
      });
      const send = (h: Record<string, string>) =>
        raw(url, { headers: { ...JSON_HEADERS, ...h }, body: JSON.stringify(INIT) });
      assert.equal((await send({ origin: EVIL })).code, 'ERR_ORIGIN');
      assert.equal((await send({ host: 'rebind.evil.example' })).code, 'ERR_HOST');
      assert.equal((await send({ origin: 'https://two.example' })).status, 200);
      assert.equal((await send({ host: 'mcp.corp.example' })).status, 200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
