import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketServer } from 'ws';
import { storeCheck } from '../src/observe/health.js';
import { createMetrics } from '../src/observe/metrics.js';
import { createMonitor } from '../src/monitor/create.js';
import { intentPolicy } from '../src/policy/intent-policy.js';
import { parseIntent } from '../src/intent/parse.js';
import { startHttpProxy } from '../src/transports/http/server.js';
import { createRuntime } from '../src/app/runtime.js';
import type { RuntimeOptions } from '../src/transports/runtime.js';
import { startWsProxy } from '../src/transports/ws.js';
import { openStore } from '../src/store/db.js';
import { httpUpstream } from './helpers/http-upstream.js';
import { enforcingRuntime } from './helpers/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-observe-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: summarise my notes\ntools: [echo, read_notes, get-sum]\n');

/** A plain GET (or another method) with the given headers; resolves with status, headers and body. */
function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line (`name{labels} value`) in a Prometheus exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const key = line.slice(0, space);
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    const have = brace < 0 ? '' : key.slice(brace + 1, -1);
    if (Object.entries(labels).every(([k, v]) => have.split(',').includes(`${k}="${v}"`)))
      return Number(line.slice(space + 1));
  }
  return undefined;
}

async function httpStack(extra: Partial<RuntimeOptions> = {}) {
  const upstream = await httpUpstream();
  const runtime = await createRuntime({
    mode: 'enforce',
    db: join(dir, `http-${Math.random()}.db`),
    pack: true,
    rules: [],
    intentFile,
    log: () => undefined,
    ...extra,
  });
  const proxy = await startHttpProxy({ upstream: upstream.url, runtime, resource: 'https://ig.test/mcp' });
  const base = proxy.url.replace(/\/mcp$/, '');
  return {
    upstream,
    runtime,
    proxy,
    base,
    async close() {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    },
  };
}

describe('metrics and health on the HTTP proxy', () => {
  it('/metrics counts sessions, calls by decision, findings by rule and analysis time; process metrics too', async () => {
    const s = await httpStack();
    try {
      const client = new Client({ name: 'agent', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(s.proxy.url)));
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      await client.callTool({ name: 'echo', arguments: { text: 'again' } });
      await assert.rejects(client.callTool({ name: 'send_email', arguments: { to: 'x@y.z', body: 'b' } }));
      const m = await get(`${s.base}/metrics`);
      assert.equal(m.status, 200);
      assert.match(m.type, /^text\/plain; version=0\.0\.4/);
      assert.equal(sample(m.body, 'intentguard_sessions_open'), 1);
      assert.equal(sample(m.body, 'intentguard_sessions_opened_total', { transport: 'http' }), 1);
      assert.equal(sample(m.body, 'intentguard_calls_total', { decision: 'allow', enforced: 'false' }), 2);
      assert.equal(
        sample(m.body, 'intentguard_calls_total', { decision: 'reauthorize', enforced: 'true' }),
        1,
      );
      assert.ok(
        (sample(m.body, 'intentguard_rule_findings_total', { rule: 'IG-INT-001', action: 'reauthorize' }) ??
          0) >= 1,
      );
      assert.ok((sample(m.body, 'intentguard_analysis_seconds_count') ?? 0) >= 3);
      assert.equal(sample(m.body, 'intentguard_approvals_pending'), 0);
      assert.equal(sample(m.body, 'intentguard_recorder_healthy'), 1);
      assert.notEqual(sample(m.body, 'intentguard_recorder_lag_seconds'), undefined);
      assert.notEqual(sample(m.body, 'process_cpu_user_seconds_total'), undefined);
      await client.close();
    } finally {
      await s.close();
    }
  });

  it('/healthz is live; /readyz is ready while the upstream is reachable and 503 once it is gone', async () => {
    const s = await httpStack();
    try {
      const h = await get(`${s.base}/healthz`);
      assert.equal(h.status, 200);
      assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
      const r = await get(`${s.base}/readyz`);
      assert.equal(r.status, 200, r.body);
      const ready = JSON.parse(r.body);
      assert.equal(ready.status, 'ready');
      assert.equal(ready.checks.upstream.ok, true);
      assert.equal(ready.checks.store.ok, true);
      assert.equal(ready.checks.recorder.ok, true);
      await s.upstream.close();
      const down = await get(`${s.base}/readyz`);
      assert.equal(down.status, 503);
      assert.equal(JSON.parse(down.body).checks.upstream.ok, false);
    } finally {
      await s.proxy.close();
      await s.runtime.close();
    }
  });

  it('the endpoints keep the front door (foreign Host or Origin: 403), take only GET/HEAD, and never reach upstream', async () => {
    const s = await httpStack();
    try {
      for (const p of ['/metrics', '/healthz', '/readyz']) {
        const host = await get(`${s.base}${p}`, { host: 'evil.example' });
        assert.equal(host.status, 403, p);
        assert.equal(JSON.parse(host.body).error.data.code, 'ERR_HOST');
        const origin = await get(`${s.base}${p}`, { origin: 'https://evil.example' });
        assert.equal(origin.status, 403, p);
        assert.equal(JSON.parse(origin.body).error.data.code, 'ERR_ORIGIN');
        assert.equal((await get(`${s.base}${p}`, {}, 'POST')).status, 405);
      }
      assert.equal((await get(`${s.base}/metrics`, {}, 'HEAD')).status, 200);
      assert.equal(s.upstream.seen.length, 0);
    } finally {
      await s.close();
    }
  });

  it('two runtimes in one process keep their own registries', async () => {
    const a = await httpStack({ db: false });
    const b = await httpStack({ db: false });
    try {
      const client = new Client({ name: 'agent', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(a.proxy.url)));
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      const ma = (await get(`${a.base}/metrics`)).body;
      const mb = (await get(`${b.base}/metrics`)).body;
      assert.equal(sample(ma, 'intentguard_calls_total', { decision: 'allow' }), 1);
      assert.equal(sample(mb, 'intentguard_calls_total', { decision: 'allow' }), undefined);
      // No recorder: no recorder metrics, and readiness does not depend on one.
      assert.equal(sample(ma, 'intentguard_recorder_healthy'), undefined);
      assert.equal((await get(`${a.base}/readyz`)).status, 200);
      await client.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a store that cannot be written is not ready', () => {
    const file = join(dir, 'ro.db');
    openStore(file).close();
    const ro = openStore(file, { readonly: true });
    try {
      assert.equal(storeCheck(ro).ok, false);
    } finally {
      ro.close();
    }
  });
});

describe('metrics and health on the WebSocket proxy', () => {
  it('/metrics and /readyz answer plain HTTP on the proxy port, behind the front door', async () => {
    const upstream = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'mcp' });
    await new Promise((r) => upstream.once('listening', r));
    const runtime = await enforcingRuntime(intentFile);
    const proxy = await startWsProxy({
      upstream: `ws://127.0.0.1:${(upstream.address() as { port: number }).port}`,
      runtime,
    });
    const base = proxy.url.replace(/^ws/, 'http').replace(/\/$/, '');
    try {
      const m = await get(`${base}/metrics`);
      assert.equal(m.status, 200);
      assert.equal(sample(m.body, 'intentguard_sessions_open'), 0);
      assert.equal((await get(`${base}/readyz`)).status, 200);
      assert.equal((await get(`${base}/metrics`, { host: 'evil.example' })).status, 403);
      assert.equal((await get(`${base}/other`)).status, 426);
    } finally {
      await proxy.close();
      await runtime.close();
      await new Promise((r) => upstream.close(r));
    }
  });
});

describe('--metrics-listen on the stdio proxy', () => {
  it('serves /metrics and /readyz on its own port (front door included) while the proxy carries a session', async () => {
    const db = join(dir, 'stdio.db');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        'bin/intentguard.js',
        'stdio',
        '--intent',
        intentFile,
        '--db',
        db,
        '--metrics-listen',
        '127.0.0.1:0',
        '--',
        process.execPath,
        'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
      ],
      stderr: 'pipe',
    });
    let stderr = '';
    const address = new Promise<string>((resolve) => {
      transport.stderr!.on('data', (c: Buffer) => {
        stderr += c;
        const m = /metrics on (http:\/\/[^\s]+)\/metrics/.exec(stderr);
        if (m) resolve(m[1]!);
      });
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(transport);
    const base = await address;
    try {
      await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
      const m = await get(`${base}/metrics`);
      assert.equal(m.status, 200);
      assert.equal(sample(m.body, 'intentguard_sessions_open'), 1);
      assert.equal(sample(m.body, 'intentguard_calls_total', { decision: 'allow' }), 1);
      assert.equal(sample(m.body, 'intentguard_sessions_opened_total', { transport: 'stdio' }), 1);
      const r = await get(`${base}/readyz`);
      assert.equal(r.status, 200, r.body);
      assert.match(JSON.parse(r.body).checks.upstream.detail, /server process \d+ running/);
      assert.equal((await get(`${base}/metrics`, { host: 'evil.example' })).status, 403);
      assert.equal((await get(`${base}/mcp`)).status, 404);
    } finally {
      await client.close();
    }
  });

  it('--metrics-port and --metrics-listen together, or a bad address, are ERR_CONFIG', async () => {
    const { runtimeOptions } = await import('../src/cli/proxy-commands.js');
    assert.deepEqual(runtimeOptions({ metricsPort: '9464', record: false }, {}).metricsListen, {
      host: '127.0.0.1',
      port: 9464,
    });
    assert.deepEqual(runtimeOptions({ metricsListen: '[::1]:9464', record: false }, {}).metricsListen, {
      host: '::1',
      port: 9464,
    });
    for (const flags of [
      { metricsPort: '9464', metricsListen: '127.0.0.1:9464' },
      { metricsPort: 'x' },
      { metricsListen: 'nowhere' },
    ])
      assert.throws(
        () => runtimeOptions({ ...flags, record: false }, {}),
        (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /--metrics-/.test(e.message),
      );
  });
});

describe('metrics counted on the per-message path', () => {
  it('expose every decision and analysis time up to the read, once, past the queue size, across reads', async () => {
    const metrics = createMetrics();
    const intent = parseIntent({ purpose: 'summarise my notes', tools: ['echo'] });
    const monitor = createMonitor({ mode: 'monitor', policy: metrics.timed(intentPolicy()) });
    metrics.attach({ monitor });
    const s = monitor.open({ intent, transport: 'test' });
    s.attach({ deliver: () => undefined, close: () => undefined });
    const call = (id: number, name: string) =>
      s.observe('c2s', { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
    const answer = (id: number) => s.observe('s2c', { jsonrpc: '2.0', id, result: { content: [] } });
    await s.observe('c2s', {
      jsonrpc: '2.0',
      id: 'init',
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    await s.observe('s2c', {
      jsonrpc: '2.0',
      id: 'init',
      result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 's', version: '1' } },
    });
    await s.observe('c2s', { jsonrpc: '2.0', method: 'notifications/initialized' });
    const before = await metrics.render();
    const handshake = sample(before, 'intentguard_analysis_seconds_count') ?? 0;
    // More than the 1,024 analysis times queued between two reads.
    for (let i = 0; i < 1500; i++) {
      await call(i, i % 3 === 0 ? 'delete_everything' : 'echo');
      await answer(i);
    }
    const first = await metrics.render();
    const outside = 500; // i % 3 === 0 for i < 1500
    assert.equal(sample(first, 'intentguard_calls_total', { decision: 'allow', enforced: 'false' }), 1000);
    assert.equal(
      sample(first, 'intentguard_calls_total', { decision: 'reauthorize', enforced: 'false' }),
      outside,
    );
    assert.equal(sample(first, 'intentguard_rule_findings_total', { action: 'reauthorize' }), outside);
    assert.equal(
      sample(first, 'intentguard_decisions_total', { dir: 'c2s', kind: 'request', decision: 'reauthorize' }),
      outside,
    );
    assert.equal(sample(first, 'intentguard_decisions_total', { dir: 's2c', decision: 'allow' }), 1501);
    assert.equal(sample(first, 'intentguard_analysis_seconds_count'), handshake + 3000);
    // A second read adds nothing by itself; what came after the first read is counted once.
    const ours = (text: string) => text.split('\n').filter((l) => l.startsWith('intentguard_'));
    assert.deepEqual(ours(await metrics.render()), ours(first));
    await call(2000, 'echo');
    const second = await metrics.render();
    assert.equal(sample(second, 'intentguard_calls_total', { decision: 'allow', enforced: 'false' }), 1001);
    assert.equal(sample(second, 'intentguard_analysis_seconds_count'), handshake + 3001);
    assert.equal(
      sample(second, 'intentguard_analysis_seconds_bucket', { le: '+Inf' }),
      sample(second, 'intentguard_analysis_seconds_count'),
    );
    s.close('done');
    metrics.close();
  });
});
