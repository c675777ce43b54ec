import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createMonitor, parseIntent, tap } from '../src/index.js';
import { createTracing } from '../src/observe/tracing.js';
import { parseTraceparent } from '../src/era/trace.js';
import { startHttpProxy } from '../src/transports/http/server.js';
import { httpUpstream, sseUpstream } from './helpers/http-upstream.js';
import { demoServer } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';
import { enforcingRuntime } from './helpers/runtime.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE}-${PARENT}-01`;

const dir = mkdtempSync(join(tmpdir(), 'ig-traces-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things back\ntools: [echo, get-sum]\n');

/** A real OTLP/HTTP (JSON) receiver on 127.0.0.1: every span posted to /v1/traces, flattened. */
async function otlpReceiver() {
  const spans: {
    name: string;
    traceId: string;
    spanId: string;
    parentSpanId?: string;
    attributes: Record<string, unknown>;
  }[] = [];
  const resources: Record<string, unknown>[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const doc = JSON.parse(body) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: Record<string, unknown> }[] };
          scopeSpans: {
            spans: {
              name: string;
              traceId: string;
              spanId: string;
              parentSpanId?: string;
              attributes: { key: string; value: Record<string, unknown> }[];
            }[];
          }[];
        }[];
      };
      // OTLP JSON values: {stringValue}, {boolValue}, {arrayValue: {values: [...]}}.
      const value = (v: Record<string, unknown>): unknown => {
        const [kind, inner] = Object.entries(v)[0]!;
        return kind === 'arrayValue'
          ? ((inner as { values?: Record<string, unknown>[] }).values ?? []).map(value)
          : inner;
      };
      const flat = (a: { key: string; value: Record<string, unknown> }[]) =>
        Object.fromEntries(a.map((x) => [x.key, value(x.value)]));
      for (const rs of doc.resourceSpans) {
        resources.push(flat(rs.resource.attributes));
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId && { parentSpanId: s.parentSpanId }),
              attributes: flat(s.attributes),
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    spans,
    resources,
    paths,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('traces: one span per request', () => {
  it('a tools/call span carries decision, rules, session, principal and tool, and continues params._meta.traceparent', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter });
    const monitor = createMonitor();
    tracing.attach(monitor);
    const [clientT, serverT] = InMemoryTransport.createLinkedPair();
    await demoServer().connect(serverT);
    const intent = parseIntent({ purpose: 'notes', tools: ['echo'] });
    const guarded = tap(clientT, monitor, {
      side: 'client',
      intent,
      identity: { sub: 'agent-7', iss: 'https://idp' },
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(guarded);
    await client.callTool({ name: 'echo', arguments: { text: 'hi' }, _meta: { traceparent: TRACEPARENT } });
    await assert.rejects(client.callTool({ name: 'send_email', arguments: { to: 'a@b.c', body: 'x' } }));
    await client.close();
    monitor.close();
    const spans = exporter.getFinishedSpans();
    await tracing.close();
    const echo = spans.find((s) => s.name === 'tools/call echo')!;
    assert.ok(echo, spans.map((s) => s.name).join(','));
    assert.equal(echo.spanContext().traceId, TRACE);
    assert.equal(echo.parentSpanContext?.spanId, PARENT);
    assert.equal(echo.attributes['intentguard.decision'], 'allow');
    assert.equal(echo.attributes['gen_ai.tool.name'], 'echo');
    assert.equal(echo.attributes['enduser.id'], 'agent-7');
    assert.equal(echo.attributes['mcp.session.id'], guarded.session.id);
    assert.equal(echo.attributes['intentguard.answer'], 'result');
    const denied = spans.find((s) => s.name === 'tools/call send_email')!;
    assert.equal(denied.attributes['intentguard.decision'], 'reauthorize');
    assert.deepEqual(denied.attributes['intentguard.rules'], ['intent/tool-not-approved']);
    assert.equal(denied.attributes['intentguard.enforced'], true);
    assert.equal(denied.attributes['intentguard.answer'], 'refused by intentguard');
    assert.equal(denied.status.code, 2);
    // Without a traceparent a request starts its own trace; other requests get spans too.
    assert.equal(denied.parentSpanContext, undefined);
    assert.ok(spans.some((s) => s.name === 'initialize'));
  });

  it('a request still unanswered when its session ends is ended with the session', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter });
    const monitor = createMonitor();
    tracing.attach(monitor);
    const [clientT, serverT] = InMemoryTransport.createLinkedPair();
    await demoServer().connect(serverT);
    const guarded = tap(clientT, monitor, {
      side: 'client',
      intent: parseIntent({ purpose: 'p', tools: ['slow'] }),
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(guarded);
    const slow = client.callTool({ name: 'slow', arguments: { ms: 60_000 } }).catch(() => undefined);
    await waitFor(() => guarded.session.state().pending.size > 0, 'the slow call in flight');
    await guarded.session.halt('test over');
    await slow;
    const span = exporter.getFinishedSpans().find((s) => s.name === 'tools/call slow')!;
    await tracing.close();
    monitor.close();
    assert.ok(span);
    assert.equal(span.status.code, 2);
  });

  it('traceparent values are parsed strictly', () => {
    assert.deepEqual(parseTraceparent(TRACEPARENT), { traceId: TRACE, spanId: PARENT, traceFlags: 1 });
    for (const bad of [
      `00-${'0'.repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${PARENT}-01`,
      `00-${TRACE.toUpperCase()}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}-01-extra`,
      `00_${TRACE}-${PARENT}-01`,
      'garbage',
      42,
    ])
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    // A later version may append fields.
    assert.equal(parseTraceparent(`01-${TRACE}-${PARENT}-01-more`)?.traceId, TRACE);
  });
});

describe('traces from the OTEL_* environment, to a real OTLP/HTTP receiver', () => {
  it('intentguard stdio exports its spans (service name, attributes, _meta.traceparent) when it ends', async () => {
    const receiver = await otlpReceiver();
    try {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [
          'bin/intentguard.js',
          'stdio',
          '--intent',
          intentFile,
          '--no-record',
          '--visibility',
          'approved',
          '--',
          process.execPath,
          'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
        ],
        env: {
          ...(process.env as Record<string, string>),
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_SERVICE_NAME: 'ig-under-test',
        },
        stderr: 'ignore',
      });
      const client = new Client({ name: 'agent', version: '1' });
      await client.connect(transport);
      await client.callTool({
        name: 'echo',
        arguments: { message: 'hi' },
        _meta: { traceparent: TRACEPARENT },
      });
      await assert.rejects(client.callTool({ name: 'get-env', arguments: {} }));
      const exited = new Promise<void>((r) => (transport.onclose = () => r()));
      await client.close();
      await exited;
      await waitFor(() => receiver.spans.some((s) => s.name === 'tools/call get-env'), 'the spans to arrive');
      assert.match(receiver.paths[0]!, /^POST \/v1\/traces application\/json/);
      assert.equal(receiver.resources[0]!['service.name'], 'ig-under-test');
      const echo = receiver.spans.find((s) => s.name === 'tools/call echo')!;
      assert.equal(echo.traceId, TRACE);
      assert.equal(echo.parentSpanId, PARENT);
      assert.equal(echo.attributes['intentguard.decision'], 'allow');
      assert.equal(echo.attributes['gen_ai.tool.name'], 'echo');
      const denied = receiver.spans.find((s) => s.name === 'tools/call get-env')!;
      assert.equal(denied.attributes['intentguard.decision'], 'deny');
      assert.ok((denied.attributes['intentguard.rules'] as string[]).includes('intent/tool-hidden'));
    } finally {
      await receiver.close();
    }
  });

  for (const legacy of [false, true])
    it(`intentguard http${legacy ? ' in front of a legacy HTTP+SSE server' : ''} continues the traceparent header of the POST that carries the request, and sends its own span upstream`, async () => {
      const receiver = await otlpReceiver();
      const upstream = legacy ? await sseUpstream() : await httpUpstream();
      const proxy = spawn(
        process.execPath,
        [
          'bin/intentguard.js',
          'http',
          '--listen',
          '127.0.0.1:0',
          '--intent',
          intentFile,
          '--no-record',
          '--upstream',
          upstream.url,
        ],
        {
          env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      try {
        let stderr = '';
        const url = await new Promise<string>((resolve, reject) => {
          proxy.stderr.on('data', (c: Buffer) => {
            stderr += c;
            const m = /intentguard http: (http:\/\/\S+)/.exec(stderr);
            if (m) resolve(m[1]!);
          });
          proxy.once('exit', () => reject(new Error(`proxy exited: ${stderr}`)));
        });
        const requestInit = { headers: { traceparent: TRACEPARENT, tracestate: 'vendor=1' } };
        const client = new Client({ name: 'agent', version: '1' });
        await client.connect(
          legacy
            ? new SSEClientTransport(new URL(url), { requestInit })
            : new StreamableHTTPClientTransport(new URL(url), { requestInit }),
        );
        await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
        await client.close();
        const exited = new Promise<void>((r) => proxy.once('exit', () => r()));
        proxy.kill('SIGTERM');
        await exited;
        await waitFor(() => receiver.spans.some((s) => s.name === 'tools/call echo'), 'the echo span');
        const echo = receiver.spans.find((s) => s.name === 'tools/call echo')!;
        assert.equal(echo.traceId, TRACE);
        assert.equal(echo.parentSpanId, PARENT);
        assert.equal(echo.attributes['intentguard.decision'], 'allow');
        // The server was sent intentguard's span as its parent: its spans continue intentguard's.
        const call = upstream.seen.find((r) => r.body.includes('"tools/call"'))!;
        assert.equal(call.headers.traceparent, `00-${TRACE}-${echo.spanId}-01`);
        assert.equal(call.headers.tracestate, 'vendor=1');
      } finally {
        proxy.kill('SIGKILL');
        await upstream.close();
        await receiver.close();
      }
    });
});

describe('trace context sent upstream without tracing', () => {
  it("intentguard http passes the client's valid traceparent (and tracestate) to the server unchanged, and never a malformed one", async () => {
    const upstream = await httpUpstream();
    const runtime = await enforcingRuntime(intentFile);
    assert.equal(runtime.observe.tracing, undefined, 'no OTEL_* settings: no tracing');
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime });
    try {
      for (const [traceparent, expected] of [
        [TRACEPARENT, TRACEPARENT],
        [`00-${TRACE.toUpperCase()}-${PARENT}-01`, undefined],
      ] as const) {
        const client = new Client({ name: 'agent', version: '1' });
        await client.connect(
          new StreamableHTTPClientTransport(new URL(proxy.url), {
            requestInit: { headers: { traceparent, tracestate: 'vendor=2' } },
          }),
        );
        const before = upstream.seen.length;
        await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
        const call = upstream.seen.slice(before).find((r) => r.body.includes('"tools/call"'))!;
        assert.equal(call.headers.traceparent, expected, traceparent);
        assert.equal(call.headers.tracestate, expected && 'vendor=2');
        await client.close();
      }
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });
});
