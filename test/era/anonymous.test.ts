// Anonymous stateless traffic (issue 15): without a grant (monitor / learn mode), 2026-07-28 requests
// are never one global session. An explicit correlation (the Intentguard-Correlation header, or
// _meta["io.intentguard/correlation"]) keys them; otherwise their connection and clientInfo do; the
// choice is the client's word, recorded as unverified. Real SDK v2 Clients and a v2 server.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Agent, request } from 'node:http';
import { CORRELATION_META } from '../../src/stateless/key.js';
import { post } from './fixtures/post.js';
import { httpStack, intentDir } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const { dir, remove } = intentDir('ig-era-anon-', 'purpose: echo things\ntools: [echo]\n');
after(remove);

async function stack() {
  const upstream = await v2HttpServer();
  return { upstream, ...(await httpStack(upstream, dir, { mode: 'monitor' })) };
}

const echo = { name: 'echo', arguments: { text: 'x' } };
const meta = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  ...extra,
});

/** POST one echo on `agent`'s connection (keep-alive, one socket: requests share one connection). */
const onConnection = (agent: Agent, url: string, client: string) =>
  new Promise<void>((resolve, reject) => {
    const text = JSON.stringify({
      jsonrpc: '2.0',
      id: `${client}-${Math.random()}`,
      method: 'tools/call',
      params: {
        ...echo,
        _meta: meta({ 'io.modelcontextprotocol/clientInfo': { name: client, version: '2' } }),
      },
    });
    const r = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'echo',
        },
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    r.on('error', reject);
    r.end(text);
  });

const open = (s: Awaited<ReturnType<typeof stack>>) =>
  s.runtime.monitor
    .sessions()
    .filter((x) => x.status === 'open')
    .map((x) => [x.transportSessionId, x.calls] as const)
    .sort();

describe('era: anonymous stateless sessions', () => {
  it('monitoring without a grant: one session per connection and clientInfo, recorded as unverified', async () => {
    const s = await stack();
    const first = new Agent({ keepAlive: true, maxSockets: 1 });
    const second = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await onConnection(first, s.url, 'agent-a');
      await onConnection(first, s.url, 'agent-a');
      await onConnection(first, s.url, 'agent-b');
      await onConnection(second, s.url, 'agent-a');
      const sessions = open(s);
      assert.equal(sessions.length, 3, JSON.stringify(sessions));
      for (const [basis] of sessions)
        assert.match(basis ?? '', /^unverified connection \d+ clientInfo agent-[ab]\/2$/);
      // Two requests on one connection from one client are one session; another client or connection is another.
      const calls = (client: string) =>
        sessions
          .filter(([basis]) => basis!.endsWith(` ${client}/2`))
          .map(([, n]) => n)
          .sort();
      assert.deepEqual(calls('agent-a'), [1, 2]);
      assert.deepEqual(calls('agent-b'), [1]);
    } finally {
      first.destroy();
      second.destroy();
      await s.close();
    }
  });

  it('an explicit correlation (header or _meta) joins requests on separate connections; another one is another session', async () => {
    const s = await stack();
    try {
      const close = { connection: 'close' };
      const corr = (id: string) => ({ ...close, 'intentguard-correlation': id });
      const r = await post(s.url, 'tools/call', echo, corr('run-1'));
      assert.ok(r.body.result, JSON.stringify(r.body));
      await post(s.url, 'tools/call', echo, corr('run-1'));
      const runs = () => open(s).filter(([basis]) => basis?.startsWith('unverified correlation'));
      assert.deepEqual(runs(), [['unverified correlation run-1', 2]]);
      // The same correlation in _meta (a client that cannot set headers), and another correlation.
      await post(s.url, 'tools/call', { ...echo, _meta: meta({ [CORRELATION_META]: 'run-1' }) }, close);
      await post(s.url, 'tools/call', { ...echo, _meta: meta({ [CORRELATION_META]: 'run-2' }) }, close);
      assert.deepEqual(runs(), [
        ['unverified correlation run-1', 3],
        ['unverified correlation run-2', 1],
      ]);
    } finally {
      await s.close();
    }
  });

  it('a session keyed by its connection ends when the connection closes', async () => {
    const s = await stack();
    try {
      const r = await post(s.url, 'tools/call', echo, { connection: 'close' });
      assert.ok(r.body.result, JSON.stringify(r.body));
      const id = s.events.find((e) => e.method === 'tools/call')!.session;
      const handle = s.runtime.monitor.session(id);
      if (handle) await handle.whenEnded();
      assert.deepEqual(open(s), []);
    } finally {
      await s.close();
    }
  });

  it('enforcing without a grant, anonymous traffic stays one session whatever key the client names', async () => {
    const upstream = await v2HttpServer();
    const s = { upstream, ...(await httpStack(upstream, dir)) };
    try {
      await post(s.url, 'tools/call', echo, { connection: 'close', 'intentguard-correlation': 'one' });
      await post(s.url, 'tools/call', echo, { connection: 'close', 'intentguard-correlation': 'two' });
      await post(s.url, 'tools/call', echo, { connection: 'close' });
      const sessions = s.runtime.monitor.sessions();
      assert.equal(sessions.length, 1, 'a new key would shed a halt or a budget');
      assert.equal(sessions[0]!.calls, 3);
    } finally {
      await s.close();
    }
  });
});
