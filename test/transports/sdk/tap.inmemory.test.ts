import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  RPC_CODES,
  createMonitor,
  parseIntent,
  tap,
  type Alert,
  type Decision,
  type MonitorOptions,
  type Policy,
  type SessionEvent,
} from '../../../src/index.js';
import { demoServer } from '../../helpers/servers.js';

const intent = parseIntent({
  purpose: 'summarise my notes',
  tools: ['echo', 'read_notes', 'slow'],
  budget: { calls: 5 },
});

async function setup(opts: MonitorOptions = {}, side: 'client' | 'server' = 'client', i = intent) {
  const monitor = createMonitor(opts);
  const events: SessionEvent[] = [];
  const decisions: Decision[] = [];
  const alerts: Alert[] = [];
  monitor.events$.subscribe((e) => events.push(e));
  monitor.decisions$.subscribe((d) => decisions.push(d));
  monitor.alerts$.subscribe((a) => alerts.push(a));
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  const server = demoServer();
  const seen: string[] = [];
  const clientSide = side === 'client' ? tap(clientT, monitor, { side: 'client', intent: i }) : clientT;
  const serverSide: Transport =
    side === 'server' ? tap(serverT, monitor, { side: 'server', intent: i }) : serverT;
  await server.connect(serverSide);
  // Record what reaches the server (after the tap on the server side, or from the wire on the client side).
  const serverOnMessage = serverSide.onmessage!;
  serverSide.onmessage = (m, extra) => {
    if ('method' in m && typeof m.method === 'string')
      seen.push(m.method === 'tools/call' ? `call:${(m.params as { name: string }).name}` : m.method);
    serverOnMessage(m, extra);
  };
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  const clientErrors: Error[] = [];
  client.onerror = (e) => clientErrors.push(e);
  await client.connect(clientSide);
  return { monitor, client, server, events, decisions, alerts, seen, clientErrors, clientT, serverT };
}

describe('tap over InMemory with a real Client and McpServer', () => {
  for (const side of ['client', 'server'] as const) {
    it(`allows an approved call and pairs the result with its call (${side} side)`, async () => {
      const t = await setup({}, side);
      const res = await t.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      assert.deepEqual(res.content, [{ type: 'text', text: 'hi' }]);
      const call = t.events.find((e) => e.kind === 'request' && e.method === 'tools/call')!;
      assert.equal(call.tool, 'echo');
      assert.deepEqual(call.args, { text: 'hi' });
      assert.equal(call.call, 0);
      const result = t.events.find((e) => e.kind === 'response' && e.request?.seq === call.seq)!;
      assert.equal(result.tool, 'echo');
      assert.equal(result.call, 0);
      assert.deepEqual((result.result as { content: unknown }).content, [{ type: 'text', text: 'hi' }]);
      // Every event got exactly one decision, in order, with gap-free sequence numbers.
      assert.deepEqual(
        t.events.map((e) => e.seq),
        t.events.map((_, i) => i),
      );
      assert.deepEqual(
        t.decisions.map((d) => d.seq),
        t.events.map((e) => e.seq),
      );
      assert.ok(t.events.every((e) => e.session === call.session));
      await t.client.close();
      t.monitor.close();
    });

    it(`denies a tool outside the intent without reaching the server (${side} side)`, async () => {
      const t = await setup({}, side);
      await assert.rejects(
        t.client.callTool({ name: 'send_email', arguments: { to: 'x@evil.test', body: 'b' } }),
        (e: unknown) => {
          assert.ok(e instanceof McpError);
          assert.equal(e.code, RPC_CODES.DENIED);
          const data = e.data as { code: string; rules: string[]; decision: string; reason: string };
          assert.equal(data.code, 'ERR_REAUTH_REQUIRED');
          assert.deepEqual(data.rules, ['intent/tool-not-approved']);
          assert.match(data.reason, /outside approved tools/);
          assert.ok(t.decisions.some((d) => d.id === data.decision && d.action === 'reauthorize'));
          return true;
        },
      );
      assert.ok(!t.seen.includes('call:send_email'), 'the denied call must not reach the server');
      assert.equal(t.alerts.length, 1);
      assert.equal(t.alerts[0]!.rule, 'intent/tool-not-approved');
      // The synthetic error answer was itself observed, and the session keeps working.
      assert.ok(t.events.some((e) => e.synthetic && e.kind === 'error'));
      const ok = await t.client.callTool({ name: 'echo', arguments: { text: 'still here' } });
      assert.deepEqual(ok.content, [{ type: 'text', text: 'still here' }]);
      await t.client.close();
      t.monitor.close();
    });
  }

  it('halts on budget overrun: in-flight requests get errors at once, both sides close, later calls refused', async () => {
    const t = await setup(
      {},
      'client',
      parseIntent({ purpose: 'p', tools: ['echo', 'slow'], budget: { calls: 1 } }),
    );
    let closed = false;
    t.client.onclose = () => {
      closed = true;
    };
    const slow = t.client.callTool({ name: 'slow', arguments: { ms: 30_000 } }, undefined, {
      timeout: 60_000,
    });
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    const second = t.client.callTool({ name: 'echo', arguments: { text: 'one too many' } });
    const [a, b] = await Promise.allSettled([slow, second]);
    assert.ok(Date.now() - started < 5_000, 'in-flight call must not wait for its own timeout');
    for (const r of [a, b]) {
      assert.equal(r.status, 'rejected');
      assert.equal(((r as PromiseRejectedResult).reason as McpError).code, RPC_CODES.HALTED);
    }
    assert.equal(
      ((b as PromiseRejectedResult).reason as McpError).data &&
        (((b as PromiseRejectedResult).reason as McpError).data as { code: string }).code,
      'ERR_SESSION_HALTED',
    );
    assert.ok(closed, 'client transport closed');
    assert.ok(
      t.decisions.some(
        (d) => d.action === 'halt' && d.findings.some((f) => f.rule === 'intent/budget-calls'),
      ),
    );
    await assert.rejects(t.client.callTool({ name: 'echo', arguments: { text: 'after' } }));
    assert.equal(t.monitor.stats().sessions, 0);
    t.monitor.close();
  });

  it('drops a spoofed response and raises an alert', async () => {
    const t = await setup();
    await t.serverT.send({ jsonrpc: '2.0', id: 4242, result: { content: [] } });
    await t.client.ping();
    const unmatched = t.events.find((e) => e.unmatched);
    assert.ok(unmatched, 'the spoofed response was seen');
    assert.ok(
      t.alerts.some((a) => a.rule === 'core/unmatched-response' && a.code === 'ERR_UNMATCHED_RESPONSE'),
    );
    assert.ok(!t.clientErrors.some((e) => /unknown message ID/i.test(e.message)), 'the client never saw it');
    await t.client.close();
    t.monitor.close();
  });

  it('refuses invalid and oversized messages with clear errors and keeps the session working', async () => {
    const t = await setup({ maxMessageBytes: 4096 });
    const answers: unknown[] = [];
    const serverRaw = t.serverT;
    const prev = serverRaw.onmessage!;
    serverRaw.onmessage = (m: unknown, extra?: unknown) => {
      answers.push(m);
      prev(m as never, extra as never);
    };
    await serverRaw.send({ jsonrpc: '1.0', id: 7, method: 'sampling/createMessage' } as never);
    await new Promise((r) => setImmediate(r));
    const refusal = answers.find((m) => (m as { id?: unknown }).id === 7) as {
      error: { code: number; data: { code: string } };
    };
    assert.equal(refusal.error.code, RPC_CODES.INVALID_REQUEST);
    assert.equal(refusal.error.data.code, 'ERR_JSONRPC_VERSION');
    await assert.rejects(
      t.client.callTool({ name: 'echo', arguments: { text: 'x'.repeat(10_000) } }),
      (e: unknown) => {
        assert.equal((e as McpError).code, RPC_CODES.REFUSED);
        assert.equal(((e as McpError).data as { code: string }).code, 'ERR_MESSAGE_TOO_LARGE');
        return true;
      },
    );
    assert.ok(!t.seen.includes('call:echo'));
    const ok = await t.client.callTool({ name: 'echo', arguments: { text: 'small' } });
    assert.deepEqual(ok.content, [{ type: 'text', text: 'small' }]);
    await t.client.close();
    t.monitor.close();
  });

  it('a message too large to keep is never delivered, in either mode: its sender gets an error, a waiting caller an error in place of the answer', async () => {
    for (const mode of ['enforce', 'monitor'] as const) {
      const monitor = createMonitor({ mode, maxMessageBytes: 1024 });
      const s = monitor.open({ intent: parseIntent({ purpose: 'p', tools: ['echo'] }), lifecycle: false });
      const big = await s.observe('c2s', {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x'.repeat(2000) } },
      });
      assert.equal(big.forward, undefined, mode);
      assert.equal(
        (big.answer as { error: { data: { code: string } } }).error.data.code,
        'ERR_MESSAGE_TOO_LARGE',
      );
      const call = await s.observe('c2s', {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hi' } },
      });
      assert.ok(call.forward, mode);
      const answer = await s.observe('s2c', {
        jsonrpc: '2.0',
        id: 2,
        result: { content: [{ type: 'text', text: 'y'.repeat(2000) }] },
      });
      const withheld = answer.forward as { id: number; error: { message: string; data: { code: string } } };
      assert.equal(withheld.id, 2, mode);
      assert.equal(withheld.error.data.code, 'ERR_MESSAGE_TOO_LARGE');
      assert.match(withheld.error.message, /result withheld/);
      assert.equal(s.state().pending.size, 0, 'the call is answered: nothing left pending');
      monitor.close();
    }
  });

  it('fails closed when the policy throws or does not answer in time', async () => {
    const throwing: Policy = {
      name: 'boom',
      evaluate: ({ event }) => {
        if (event.tool === 'echo') throw new Error('kaput');
        return { action: 'allow', findings: [] };
      },
    };
    const t = await setup({ policy: throwing });
    await assert.rejects(t.client.callTool({ name: 'echo', arguments: { text: 'x' } }), (e: unknown) => {
      assert.equal((e as McpError).code, RPC_CODES.MONITOR_FAILURE);
      assert.equal(((e as McpError).data as { code: string }).code, 'ERR_POLICY_FAILED');
      return true;
    });
    await t.client.close();
    t.monitor.close();

    const never: Policy = {
      name: 'never',
      evaluate: ({ event }) =>
        event.tool === 'echo' ? new Promise(() => {}) : { action: 'allow', findings: [] },
    };
    const u = await setup({ policy: never, decisionTimeoutMs: 50 });
    await assert.rejects(u.client.callTool({ name: 'echo', arguments: { text: 'x' } }), (e: unknown) => {
      assert.equal(((e as McpError).data as { code: string }).code, 'ERR_POLICY_TIMEOUT');
      return true;
    });
    assert.ok(!u.seen.includes('call:echo'));
    await u.client.close();
    u.monitor.close();
  });

  it('monitor mode observes and alerts but never blocks', async () => {
    const t = await setup({ mode: 'monitor' });
    const res = await t.client.callTool({ name: 'send_email', arguments: { to: 'a@b.test', body: 'x' } });
    assert.deepEqual(res.content, [{ type: 'text', text: 'sent to a@b.test' }]);
    assert.ok(t.alerts.some((a) => a.rule === 'intent/tool-not-approved'));
    assert.ok(t.decisions.every((d) => !d.enforced));
    await t.client.close();
    t.monitor.close();
  });

  it('re-authorizes through an approver, and denies when it says no', async () => {
    const asked: string[] = [];
    const t = await setup({
      approver: async (r) => {
        asked.push(r.event.tool!);
        return r.event.tool === 'send_email' && (r.event.args as { to: string }).to === 'boss@corp.test';
      },
    });
    const ok = await t.client.callTool({
      name: 'send_email',
      arguments: { to: 'boss@corp.test', body: 'x' },
    });
    assert.deepEqual(ok.content, [{ type: 'text', text: 'sent to boss@corp.test' }]);
    await assert.rejects(
      t.client.callTool({ name: 'send_email', arguments: { to: 'eve@evil.test', body: 'x' } }),
    );
    assert.deepEqual(asked, ['send_email', 'send_email']);
    assert.deepEqual(
      t.seen.filter((s) => s.startsWith('call:')),
      ['call:send_email'],
    );
    await t.client.close();
    t.monitor.close();
  });

  it('releases every session group once sessions close (no leaked subscriptions)', async () => {
    const monitor = createMonitor();
    const clients: Client[] = [];
    for (let i = 0; i < 5; i++) {
      const [c, s] = InMemoryTransport.createLinkedPair();
      await demoServer().connect(s);
      const client = new Client({ name: 'a', version: '1' });
      await client.connect(tap(c, monitor, { side: 'client', intent }));
      await client.callTool({ name: 'echo', arguments: { text: String(i) } });
      clients.push(client);
    }
    assert.deepEqual(monitor.stats(), { sessions: 5, groups: 5 });
    for (const c of clients) await c.close();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(monitor.stats(), { sessions: 0, groups: 0 });
    monitor.close();
  });
});
