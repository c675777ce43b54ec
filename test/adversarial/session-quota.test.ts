// Issue 11 §4, second finding: one grant could open 1,014 sessions and lock every other agent out with
// ERR_TOO_MANY_SESSIONS until the idle sweep. Sessions are now counted per agent identity (grant sub)
// on every session-opening path, reserved before anything is opened.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { mintGrant } from '../../src/identity/grant.js';
import { generateKeys, type GeneratedKeys } from '../../src/identity/keys.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { createRuntime } from '../../src/app/runtime.js';
import type { RuntimeOptions } from '../../src/transports/runtime.js';
import { listenWebSocket } from '../../src/transports/ws-transport.js';
import { startWsProxy } from '../../src/transports/ws.js';
import { httpUpstream, sseUpstream } from '../helpers/http-upstream.js';
import { demoServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/wait.js';
import { INIT, JSON_HEADERS, raw } from './raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-quota-'));
const ISS = 'https://idp.test';
const AUD = 'https://intentguard.test/mcp';
const INTENT = { purpose: 'echo things', tools: ['echo'] };

async function grantsRuntime(keys: GeneratedKeys, extra: Partial<RuntimeOptions> = {}) {
  const jwks = join(dir, `jwks-${Math.random()}.json`);
  writeFileSync(jwks, JSON.stringify(keys.publicJwks));
  return createRuntime({
    mode: 'enforce',
    db: false,
    pack: true,
    rules: [],
    log: () => undefined,
    auth: { jwks, issuers: [ISS], audience: AUD },
    ...extra,
  });
}
const grant = (keys: GeneratedKeys, sub: string) =>
  mintGrant({ privateJwk: keys.privateJwk, iss: ISS, aud: AUD, sub, ttl: '5m', intent: INTENT });
const init = (url: string, token: string) =>
  raw(url, { headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` }, body: JSON.stringify(INIT) });

describe('per-agent session quota (issue 11 §4)', () => {
  it('one grant cannot open every session and lock other agents out: the 17th session of one agent gets 429 ERR_SESSION_QUOTA, another agent still gets in', async () => {
    const keys = await generateKeys();
    const upstream = await httpUpstream({ json: true });
    const runtime = await grantsRuntime(keys);
    // Room for 20 sessions in all: without a per-agent quota one agent could take them all.
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime, maxSessions: 20 });
    try {
      const a1 = await grant(keys, 'agent:greedy');
      const a2 = await grant(keys, 'agent:greedy');
      const sids: string[] = [];
      // Concurrent opens cannot overshoot: the reservation is taken before the session exists.
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, i) => init(proxy.url, i % 2 ? a1 : a2)),
      );
      for (const r of answers) if (r.status === 200) sids.push(r.headers['mcp-session-id'] as string);
      assert.equal(
        sids.length,
        16,
        'the default quota is 16 sessions per agent, whichever of its grants they use',
      );
      const refused = answers.filter((r) => r.status !== 200);
      assert.ok(
        refused.every(
          (r) => r.status === 429 && r.code === 'ERR_SESSION_QUOTA' && r.headers['retry-after'] === '5',
        ),
      );
      assert.equal(runtime.sessionQuota.held('agent:greedy'), 16);
      // Another agent is not locked out.
      const other = await init(proxy.url, await grant(keys, 'agent:polite'));
      assert.equal(other.status, 200);
      // Closing a session gives its slot back.
      const del = await raw(proxy.url, {
        method: 'DELETE',
        headers: {
          ...JSON_HEADERS,
          authorization: `Bearer ${a1}`,
          'mcp-session-id': sids[0]!,
          'mcp-protocol-version': '2025-06-18',
        },
      });
      assert.ok(del.status < 300, `DELETE ${del.status}`);
      await waitFor(
        () => runtime.sessionQuota.held('agent:greedy') === 15,
        'the closed session released its slot',
      );
      assert.equal((await init(proxy.url, a1)).status, 200);
      // A refused initialize (upstream down) does not keep its reservation.
      await upstream.close();
      const down = await init(proxy.url, await grant(keys, 'agent:third'));
      assert.ok(down.status >= 500, `upstream down: ${down.status}`);
      await waitFor(
        () => runtime.sessionQuota.held('agent:third') === 0,
        'a session that did not start released its slot',
      );
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close().catch(() => undefined);
    }
  });

  it('the quota holds on every session-opening path: the stdio bridge, legacy SSE streams and WebSocket upgrades', async () => {
    const keys = await generateKeys();
    const sse = await sseUpstream();
    const wsUp = await listenWebSocket({}, (t) => void demoServer().connect(t));
    const runtime = await grantsRuntime(keys, { maxSessionsPerAgent: 2 });
    const bridge = await startHttpProxy({
      server: {
        command: process.execPath,
        args: ['node_modules/@modelcontextprotocol/server-memory/dist/index.js'],
        env: { ...process.env, MEMORY_FILE_PATH: join(dir, 'mem.jsonl') },
      },
      runtime,
    });
    const legacy = await startHttpProxy({ upstream: sse.url, runtime });
    const ws = await startWsProxy({ upstream: wsUp.url, runtime });
    const streams: { destroy(): void }[] = [];
    const sockets: WebSocket[] = [];
    try {
      const token = await grant(keys, 'agent:bridge');
      const bridged = await Promise.all([0, 1, 2, 3].map(() => init(bridge.url, token)));
      assert.deepEqual(
        bridged.map((r) => r.status).sort(),
        [200, 200, 429, 429],
        'bridge: two processes, no more',
      );
      assert.equal(bridged.find((r) => r.status === 429)!.code, 'ERR_SESSION_QUOTA');

      const sseToken = await grant(keys, 'agent:sse');
      const openStream = () =>
        new Promise<number>((resolve) => {
          void fetch(legacy.url, {
            headers: { accept: 'text/event-stream', authorization: `Bearer ${sseToken}` },
          }).then((r) => {
            if (r.status === 200) streams.push({ destroy: () => void r.body?.cancel() });
            else void r.body?.cancel();
            resolve(r.status);
          });
        });
      const sseStatuses = await Promise.all([0, 1, 2, 3].map(openStream));
      assert.deepEqual(
        sseStatuses.sort(),
        [200, 200, 429, 429],
        'legacy SSE: two streams, no more (reserved before upstream is asked)',
      );
      assert.equal(
        sse.seen.filter((r) => r.method === 'GET').length,
        2,
        'the refused streams never reached upstream',
      );

      const wsToken = await grant(keys, 'agent:ws');
      const upgrade = () =>
        new Promise<number>((resolve) => {
          const c = new WebSocket(ws.url, 'mcp', { headers: { authorization: `Bearer ${wsToken}` } });
          c.on('open', () => {
            sockets.push(c);
            resolve(101);
          });
          c.on('unexpected-response', (_q, res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          c.on('error', () => undefined);
        });
      assert.deepEqual(
        [await upgrade(), await upgrade(), await upgrade()],
        [101, 101, 429],
        'WebSocket: two connections, no more',
      );
      sockets[0]!.close();
      await waitFor(
        () => runtime.sessionQuota.held('agent:ws') === 1,
        'a closed connection released its slot',
      );
      assert.equal(await upgrade(), 101);
    } finally {
      for (const s of streams) s.destroy();
      for (const c of sockets) c.terminate();
      await bridge.close();
      await legacy.close();
      await ws.close();
      await runtime.close();
      await sse.close();
      await wsUp.close();
    }
  });
});
