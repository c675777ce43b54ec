// MCP 2026-07-28 through the in-process tap with real SDK v2 Client and McpServer (stdio), issue 15:
// stateless requests under one intentguard session, approvals over MRTR, replayed/altered state refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { RPC_CODES, createMonitor, parseIntent, tap, type SessionEvent } from '../../src/index.js';
import { META } from '../../src/era/keys.js';
import { createEraGate } from '../../src/mrtr/gate.js';
import { APPROVAL_KEY } from '../../src/mrtr/prompt.js';
import { deriveStateKey } from '../../src/mrtr/state.js';

const intent = parseIntent({ purpose: 'echo things', tools: ['echo'], budget: { calls: 4 } });
const serverParams = {
  command: process.execPath,
  args: ['--import', 'tsx', 'test/era/fixtures/v2-server.ts'],
  cwd: process.cwd(),
  stderr: 'ignore' as const,
};
const meta = (caps: Record<string, unknown> = { elicitation: {} }) => ({
  [META.protocolVersion]: '2026-07-28',
  [META.clientCapabilities]: caps,
  [META.clientInfo]: { name: 'raw-agent', version: '1' },
});

type Msg = {
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; data?: { code?: string } };
};

/** A tapped transport to the real v2 server, driven with raw JSON-RPC (what a v2 client puts on the wire). */
async function raw(caps?: Record<string, unknown>) {
  const gate = createEraGate({ key: deriveStateKey(Buffer.alloc(32, 1)) });
  const monitorWithGate = createMonitor({ approver: gate.approver() });
  const events: SessionEvent[] = [];
  monitorWithGate.events$.subscribe((e) => events.push(e));
  const inner = new StdioClientTransport(serverParams);
  const upstream: Record<string, unknown>[] = [];
  const innerSend = inner.send.bind(inner);
  inner.send = (m) => {
    upstream.push(m as Record<string, unknown>);
    return innerSend(m);
  };
  const t = tap(inner as unknown as Transport, monitorWithGate, { side: 'client', intent, era: gate });
  const answers = new Map<unknown, (m: Msg) => void>();
  t.onmessage = (m) => answers.get((m as Msg).id)?.(m as Msg);
  await t.start();
  let n = 0;
  const call = (method: string, params: Record<string, unknown>) => {
    const id = `r${n++}`;
    const p = new Promise<Msg>((resolve) => answers.set(id, resolve));
    void t.send({ jsonrpc: '2.0', id, method, params: { ...params, _meta: meta(caps) } } as never);
    return p;
  };
  return { t, call, upstream, events, monitor: monitorWithGate, close: () => t.close() };
}

describe('era: SDK v2 through the tap (stdio)', () => {
  it('a v2 Client pinned to 2026-07-28 calls through the tap: no initialize, events recorded, results pass', async () => {
    const gate = createEraGate({ key: deriveStateKey(Buffer.alloc(32, 2)) });
    const monitor = createMonitor({ approver: gate.approver() });
    const events: SessionEvent[] = [];
    monitor.events$.subscribe((e) => events.push(e));
    const inner = new StdioClientTransport(serverParams);
    const t = tap(inner as unknown as Transport, monitor, { side: 'client', intent, era: gate });
    const client = new Client(
      { name: 'v2-agent', version: '2' },
      { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(t as never);
    const res = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    assert.deepEqual(res.content, [{ type: 'text', text: 'hi' }]);
    assert.ok(!events.some((e) => e.method === 'initialize'));
    assert.ok(
      events.some((e) => e.method === 'server/discover'),
      'server/discover passes and is tapped',
    );
    const callEvent = events.find((e) => e.method === 'tools/call')!;
    assert.equal(callEvent.tool, 'echo');
    await client.close();
    monitor.close();
  });

  it('holds an out-of-intent call with input_required; the approved retry runs once, stripped upstream', async () => {
    const r = await raw();
    try {
      const args = { title: 't', body: 'b' };
      const held = await r.call('tools/call', { name: 'write_note', arguments: args });
      assert.equal(held.result?.resultType, 'input_required');
      const state = held.result!.requestState as string;
      const prompt = (held.result!.inputRequests as Record<string, { method: string }>)[APPROVAL_KEY]!;
      assert.equal(prompt.method, 'elicitation/create');
      assert.ok(
        !r.upstream.some((m) => (m.params as { name?: string })?.name === 'write_note'),
        'nothing forwarded',
      );
      const approve = { [APPROVAL_KEY]: { action: 'accept', content: { approve: true } } };
      const done = await r.call('tools/call', {
        name: 'write_note',
        arguments: args,
        inputResponses: approve,
        requestState: state,
      });
      assert.deepEqual((done.result as { content: unknown }).content, [{ type: 'text', text: 'saved t' }]);
      const sent = r.upstream.find((m) => (m.params as { name?: string })?.name === 'write_note')!;
      assert.ok(!('requestState' in (sent.params as object)), 'intentguard state never goes upstream');
      assert.ok(!('inputResponses' in (sent.params as object)));
      // The same state again (a new id, as a retry must have): refused, not run.
      const replay = await r.call('tools/call', {
        name: 'write_note',
        arguments: args,
        inputResponses: approve,
        requestState: state,
      });
      assert.equal(replay.error?.code, RPC_CODES.REFUSED);
      assert.equal(replay.error?.data?.code, 'ERR_REQUEST_STATE_REPLAYED');
      // An altered state, or one presented for other arguments: refused.
      const fresh = (await r.call('tools/call', { name: 'write_note', arguments: args })).result!
        .requestState as string;
      const altered = fresh.slice(0, 10) + (fresh[10] === 'A' ? 'B' : 'A') + fresh.slice(11);
      const bad = await r.call('tools/call', {
        name: 'write_note',
        arguments: args,
        inputResponses: approve,
        requestState: altered,
      });
      assert.equal(bad.error?.data?.code, 'ERR_REQUEST_STATE_INVALID');
      const other = await r.call('tools/call', {
        name: 'write_note',
        arguments: { title: 'other', body: 'b' },
        inputResponses: approve,
        requestState: fresh,
      });
      assert.equal(other.error?.data?.code, 'ERR_REQUEST_STATE_MISMATCH');
      assert.equal(
        r.upstream.filter((m) => (m.params as { name?: string })?.name === 'write_note').length,
        1,
      );
    } finally {
      await r.close();
      r.monitor.close();
    }
  });

  it('a request declaring no elicitation gets -32021, never a prompt', async () => {
    const r = await raw({});
    try {
      const res = await r.call('tools/call', { name: 'write_note', arguments: { title: 't', body: 'b' } });
      assert.equal(res.error?.code, -32021);
      assert.equal(res.error?.data?.code, 'ERR_ELICITATION_UNSUPPORTED');
    } finally {
      await r.close();
      r.monitor.close();
    }
  });

  it('budget and halt hold across stateless requests of one session; a version switch is refused', async () => {
    const r = await raw();
    try {
      for (let i = 0; i < 4; i++) {
        const ok = await r.call('tools/call', { name: 'echo', arguments: { text: `${i}` } });
        assert.equal(ok.result?.resultType, 'complete', JSON.stringify(ok));
      }
      const over = await r.call('tools/call', { name: 'echo', arguments: { text: 'x' } });
      assert.ok(over.error, 'the fifth call is over the budget of 4');
      const init = new Promise<Msg>((resolve) => {
        const prev = r.t.onmessage!;
        r.t.onmessage = (m, e) => ((m as Msg).id === 'legacy-init' ? resolve(m as Msg) : prev(m, e));
      });
      void r.t.send({
        jsonrpc: '2.0',
        id: 'legacy-init',
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      } as never);
      const refused = await init;
      assert.equal(refused.error?.code, -32022);
      assert.equal(refused.error?.data?.code, 'ERR_PROTOCOL_VERSION_CHANGED');
      await r.t.session.halt('test halt');
      const after = await r.call('tools/call', { name: 'echo', arguments: { text: 'y' } });
      assert.equal(after.error?.code, RPC_CODES.HALTED);
    } finally {
      await r.close().catch(() => {});
      r.monitor.close();
    }
  });
});
