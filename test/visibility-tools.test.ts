import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import WebSocket from 'ws';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  createMonitor,
  parseIntent,
  tap,
  type MonitorOptions,
  type Policy,
  type SessionEvent,
} from '../src/index.js';
import { ALLOW, verdictOf } from '../src/model/policy.js';
import { startHttpProxy } from '../src/transports/http/server.js';
import { listenWebSocket } from '../src/transports/ws-transport.js';
import { startWsProxy } from '../src/transports/ws.js';
import { demoServer } from './helpers/servers.js';
import type { RuntimeOptions } from '../src/transports/runtime.js';
import { openStore } from '../src/store/db.js';
import { recordedSessions } from '../src/store/queries.js';
import { httpUpstream } from './helpers/http-upstream.js';
import { waitFor } from './helpers/wait.js';
import { enforcingRuntime } from './helpers/runtime.js';

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const TOOLS = ['echo', 'read_notes', 'send_email', 'delete_all', 'get_env'];
const PAGE = 2;

/** A real SDK Server whose tools/list answers in pages of two, recording every call that reaches it. */
function pagedServer(called: string[]): Server {
  const server = new Server(
    { name: 'paged', version: '1' },
    { capabilities: { tools: { listChanged: true } } },
  );
  const tools: Tool[] = TOOLS.map((name) => ({
    name,
    description: `the ${name} tool`,
    inputSchema: { type: 'object' },
  }));
  server.setRequestHandler(ListToolsRequestSchema, async (req) => {
    const start = Number(req.params?.cursor ?? 0);
    const next = start + PAGE;
    return { tools: tools.slice(start, next), ...(next < tools.length && { nextCursor: String(next) }) };
  });
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    called.push(req.params.name);
    return { content: [{ type: 'text', text: `ran ${req.params.name}` }] };
  });
  return server;
}

/** Every page of tools/list, as the client sees it. */
async function listAll(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return names;
}

/** A proxy runtime (no recording, the shipped pack) whose sessions get this intent (YAML text). */
function proxyRuntime(intentYaml: string, extra: Partial<RuntimeOptions> = {}) {
  const file = join(mkdtempSync(join(tmpdir(), 'ig-visibility-')), 'intent.yaml');
  writeFileSync(file, intentYaml);
  return enforcingRuntime(file, {
    ...extra,
  });
}

const approved = parseIntent({
  purpose: 'summarise notes',
  tools: ['echo', 'read_notes'],
  visibility: 'approved',
});

async function tapped(intent = approved, options: MonitorOptions = {}) {
  const monitor = createMonitor(options);
  const events: SessionEvent[] = [];
  monitor.events$.subscribe((e) => events.push(e));
  const called: string[] = [];
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  await pagedServer(called).connect(serverT);
  const guarded = tap(clientT, monitor, { side: 'client', intent });
  const client = new Client({ name: 'agent', version: '1' });
  await client.connect(guarded);
  return { monitor, client, events, called, session: guarded.session };
}

const refusal = async (p: Promise<unknown>): Promise<Record<string, unknown>> => {
  const e = await p.then(
    () => assert.fail('the call passed'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof McpError, String(e));
  return e.data as Record<string, unknown>;
};

describe('tool visibility (visibility: approved)', () => {
  it('tools/list offers only the approved tools on every page, while the recorded answers keep every tool', async () => {
    const t = await tapped();
    assert.deepEqual(await listAll(t.client), ['echo', 'read_notes']);
    const offered = t.events
      .filter((e) => e.kind === 'response' && e.method === 'tools/list')
      .flatMap((e) => (e.result as { tools: Tool[] }).tools.map((x) => x.name));
    assert.deepEqual(offered, TOOLS);
    // The monitor's own view (rules, replay) knows every tool the server offered.
    assert.deepEqual([...t.session.state().tools.keys()], TOOLS);
    await t.client.close();
    t.monitor.close();
  });

  it('a direct call to a hidden tool is denied (ERR_TOOL_HIDDEN), even with an approver that would approve it', async () => {
    let asked = 0;
    const t = await tapped(approved, {
      approver: async () => {
        asked++;
        return true;
      },
    });
    const data = await refusal(t.client.callTool({ name: 'delete_all', arguments: {} }));
    assert.equal(data.code, 'ERR_TOOL_HIDDEN');
    assert.ok((data.rules as string[]).includes('intent/tool-hidden'));
    assert.equal(asked, 0);
    assert.deepEqual(t.called, []);
    // A visible tool still runs.
    await t.client.callTool({ name: 'echo', arguments: {} });
    assert.deepEqual(t.called, ['echo']);
    await t.client.close();
    t.monitor.close();
  });

  it('a hidden call is ERR_TOOL_HIDDEN whatever the other policies answer (an async allow, a deny of their own)', async () => {
    const asyncAllow: Policy = { name: 'async-allow', evaluate: async () => ALLOW };
    const denyAll: Policy = {
      name: 'deny-calls',
      evaluate: ({ event }) =>
        event.tool === undefined
          ? ALLOW
          : verdictOf([{ rule: 'site/deny-all', action: 'deny', severity: 'low', reason: 'no calls' }]),
    };
    for (const policy of [asyncAllow, denyAll]) {
      const t = await tapped(approved, { policy });
      const data = await refusal(t.client.callTool({ name: 'delete_all', arguments: {} }));
      assert.equal(data.code, 'ERR_TOOL_HIDDEN', policy.name);
      assert.deepEqual(t.called, []);
      await t.client.close();
      t.monitor.close();
    }
  });

  it('without visibility the list is whole and an unapproved call goes to the approver', async () => {
    let asked = 0;
    const t = await tapped(parseIntent({ purpose: 'summarise notes', tools: ['echo'] }), {
      approver: async () => {
        asked++;
        return true;
      },
    });
    assert.deepEqual(await listAll(t.client), TOOLS);
    await t.client.callTool({ name: 'delete_all', arguments: {} });
    assert.equal(asked, 1);
    await t.client.close();
    t.monitor.close();
  });

  it('the proxy setting hides for every session; monitor mode delivers everything unchanged', async () => {
    const plain = parseIntent({ purpose: 'summarise notes', tools: ['echo'] });
    const t = await tapped(plain, { visibility: 'approved' });
    assert.deepEqual(await listAll(t.client), ['echo']);
    assert.equal(
      (await refusal(t.client.callTool({ name: 'get_env', arguments: {} }))).code,
      'ERR_TOOL_HIDDEN',
    );
    await t.client.close();
    t.monitor.close();
    // An intent cannot show what the proxy hides: visibility: all in the intent does not widen it.
    const all = await tapped(parseIntent({ purpose: 'x', tools: ['echo'], visibility: 'all' }), {
      visibility: 'approved',
    });
    assert.deepEqual(await listAll(all.client), ['echo']);
    await all.client.close();
    all.monitor.close();
    const watch = await tapped(approved, { mode: 'monitor' });
    assert.deepEqual(await listAll(watch.client), TOOLS);
    await watch.client.close();
    watch.monitor.close();
  });

  it('a tool gained by an approved intent change appears, after notifications/tools/list_changed', async () => {
    const t = await tapped();
    let changed = 0;
    t.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    assert.deepEqual(await listAll(t.client), ['echo', 'read_notes']);
    await t.session.amendIntent(
      parseIntent({
        purpose: 'summarise notes',
        tools: ['echo', 'read_notes', 'send_email'],
        visibility: 'approved',
      }),
      'security@corp',
    );
    await waitFor(() => changed === 1, 'tools/list_changed');
    assert.deepEqual(await listAll(t.client), ['echo', 'read_notes', 'send_email']);
    await t.client.callTool({ name: 'send_email', arguments: {} });
    assert.deepEqual(t.called, ['send_email']);
    // The notification is a session event like any other (recorded), sent by intentguard.
    assert.ok(t.events.some((e) => e.synthetic && e.method === 'notifications/tools/list_changed'));
    // An amendment that changes no tool sends nothing.
    await t.session.amendIntent(
      parseIntent({ purpose: 'again', tools: ['echo', 'read_notes', 'send_email'], visibility: 'approved' }),
      'security@corp',
    );
    await t.client.listTools();
    assert.equal(changed, 1);
    await t.client.close();
    t.monitor.close();
  });

  it('an intent with an unknown visibility is refused, naming the key', () => {
    assert.throws(
      () => parseIntent({ purpose: 'x', tools: [], visibility: 'some' }),
      (e: Error & { code?: string }) =>
        e.code === 'ERR_INTENT_INVALID' && /intent\.visibility/.test(e.message),
    );
  });
});

describe('tool visibility through the proxies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-visibility-'));
  const intentFile = join(dir, 'intent.yaml');
  writeFileSync(intentFile, 'purpose: echo things back\ntools: [echo, get-sum]\n');

  it('intentguard stdio --visibility approved: server-everything lists two tools, a hidden one is denied, the database keeps the whole list', async () => {
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
        '--visibility',
        'approved',
        '--',
        process.execPath,
        'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
      ],
      stderr: 'ignore',
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(transport);
    assert.deepEqual((await listAll(client)).sort(), ['echo', 'get-sum']);
    const data = await refusal(client.callTool({ name: 'get-env', arguments: {} }));
    assert.equal(data.code, 'ERR_TOOL_HIDDEN');
    await client.close();
    const store = openStore(db, { readonly: true });
    try {
      const [s] = [...recordedSessions(store)];
      const listed = s!.events
        .filter((e) => e.dir === 's2c' && typeof e.raw === 'string' && e.raw.includes('"tools":['))
        .flatMap((e) => (JSON.parse(e.raw as string).result.tools as Tool[]).map((x) => x.name));
      assert.ok(listed.includes('get-env') && listed.length > 2, `recorded: ${listed.join(',')}`);
    } finally {
      store.close();
    }
  });

  it('intentguard http with an intent saying visibility: approved filters the list and denies a hidden call', async () => {
    const upstream = await httpUpstream();
    const runtime = await proxyRuntime('purpose: notes\ntools: [echo]\nvisibility: approved\n');
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime, resource: 'https://ig.test/mcp' });
    try {
      const client = new Client({ name: 'agent', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url)));
      assert.deepEqual(await listAll(client), ['echo']);
      const data = await refusal(
        client.callTool({ name: 'send_email', arguments: { to: 'a@b.c', body: 'x' } }),
      );
      assert.equal(data.code, 'ERR_TOOL_HIDDEN');
      assert.ok(!upstream.seen.some((r) => r.body.includes('send_email')));
      await client.close();
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });
});

describe('tool visibility through the WebSocket proxy, and list_changed over HTTP', () => {
  it('intentguard ws --visibility approved filters the list and denies a hidden call', async () => {
    const upstream = await listenWebSocket({}, (t) => void demoServer().connect(t));
    const runtime = await proxyRuntime('purpose: echo\ntools: [echo, read_notes]\n', {
      visibility: 'approved',
    });
    const proxy = await startWsProxy({ upstream: upstream.url, runtime });
    try {
      const client = new Client({ name: 'ws-agent', version: '1' });
      await client.connect(new WebSocketClientTransport(new URL(proxy.url)));
      assert.deepEqual((await listAll(client)).sort(), ['echo', 'read_notes']);
      const data = await refusal(
        client.callTool({ name: 'send_email', arguments: { to: 'a@b.c', body: 'x' } }),
      );
      assert.equal(data.code, 'ERR_TOOL_HIDDEN');
      await client.close();
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });

  it('intentguard http: an approved intent change reaches the client as notifications/tools/list_changed on its stream', async () => {
    const upstream = await httpUpstream();
    const runtime = await proxyRuntime('purpose: notes\ntools: [echo]\nvisibility: approved\n');
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime, resource: 'https://ig.test/mcp' });
    try {
      const client = new Client({ name: 'agent', version: '1' });
      let changed = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        changed++;
      });
      await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url)));
      assert.deepEqual(await listAll(client), ['echo']);
      // The client's standalone stream (GET) is where a notification outside any request goes.
      await waitFor(() => upstream.seen.some((r) => r.method === 'GET'), 'the client stream');
      const [session] = runtime.monitor.sessions();
      await runtime.monitor
        .session(session!.id)!
        .amendIntent(
          parseIntent({ purpose: 'notes', tools: ['echo', 'read_notes'], visibility: 'approved' }),
          'ops',
        );
      await waitFor(() => changed === 1, 'tools/list_changed');
      assert.deepEqual(await listAll(client), ['echo', 'read_notes']);
      await client.close();
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });
});

describe('tool visibility settings', () => {
  it('--visibility takes approved or all; anything else is ERR_CONFIG', async () => {
    const { runtimeOptions } = await import('../src/cli/proxy-commands.js');
    assert.equal(runtimeOptions({ visibility: 'approved', record: false }, {}).visibility, 'approved');
    assert.equal(
      runtimeOptions({ record: false }, { INTENTGUARD_VISIBILITY: 'approved' }).visibility,
      'approved',
    );
    assert.equal(runtimeOptions({ record: false }, {}).visibility, undefined);
    assert.throws(
      () => runtimeOptions({ visibility: 'hidden', record: false }, {}),
      (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /--visibility/.test(e.message),
    );
  });
});
