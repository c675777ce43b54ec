// MCP 2026-07-28 through `intentguard http` with real SDK v2 Client and a v2 server behind createMcpHandler
// (issue 15): stateless requests admitted by their grant and joined into one intentguard session;
// headers checked against the body; an approval over MRTR that a replayed or altered state cannot reuse.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { RPC_CODES } from '../../src/errors.js';
import { META } from '../../src/era/keys.js';
import { APPROVAL_KEY } from '../../src/mrtr/prompt.js';
import { post } from './fixtures/post.js';
import { bridgeStack, httpStack, intentDir } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';
import { INVOICE_ACCOUNT, STEERED_ACCOUNT, v2Bank } from '../fleet/v2-bank.js';

const { dir, remove } = intentDir(
  'ig-era-http-',
  'purpose: echo things\ntools: [echo]\nbudget:\n  calls: 4\n',
);
after(remove);

async function stack() {
  const upstream = await v2HttpServer();
  return { upstream, ...(await httpStack(upstream, dir)) };
}

const meta = (caps: Record<string, unknown> = { elicitation: {} }) => ({
  [META.protocolVersion]: '2026-07-28',
  [META.clientCapabilities]: caps,
});

describe('era: 2026-07-28 through intentguard http', () => {
  it('a v2 Client pinned to 2026-07-28 works through the proxy; its stateless requests share one session', async () => {
    const s = await stack();
    try {
      const client = new Client(
        { name: 'v2-agent', version: '2' },
        { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await client.connect(new StreamableHTTPClientTransport(new URL(s.url)));
      for (const text of ['a', 'b']) {
        const r = await client.callTool({ name: 'echo', arguments: { text } });
        assert.deepEqual(r.content, [{ type: 'text', text }]);
      }
      const sessions = s.runtime.monitor.sessions();
      assert.equal(sessions.length, 1, 'one intentguard session for the grant');
      assert.equal(sessions[0]!.calls, 2);
      assert.ok(!s.upstream.received.some((m) => m.method === 'initialize'));
      await client.close();
    } finally {
      await s.close();
    }
  });

  it('a 2026-07-28 request carrying Last-Event-ID is served as any other (there is no resumption to ask for)', async () => {
    const s = await stack();
    try {
      const r = await post(
        s.url,
        'tools/call',
        { name: 'echo', arguments: { text: 'no-resume' } },
        {
          'last-event-id': 'ig-0-17',
        },
      );
      assert.deepEqual(r.body.result?.content, [{ type: 'text', text: 'no-resume' }], JSON.stringify(r.body));
      assert.equal(s.upstream.received.length, 1);
    } finally {
      await s.close();
    }
  });

  it('refuses headers that contradict the body (-32020, 400) before any rule or upstream sees them', async () => {
    const s = await stack();
    try {
      const r = await post(
        s.url,
        'tools/call',
        { name: 'echo', arguments: { text: 'x' } },
        { 'mcp-name': 'write_note' },
      );
      assert.equal(r.status, 400);
      assert.equal(r.body.error?.code, -32020);
      const m = await post(
        s.url,
        'tools/call',
        { name: 'echo', arguments: { text: 'x' } },
        { 'mcp-method': 'tools/list' },
      );
      assert.equal(m.body.error?.code, -32020);
      assert.equal(s.upstream.received.length, 0);
    } finally {
      await s.close();
    }
  });

  it('Mcp-Name must mirror the body on every method that has one, on both HTTP paths; checked before a task owner', async () => {
    const named: [string, Record<string, unknown>][] = [
      ['tools/call', { name: 'echo', arguments: { text: 'x' } }],
      ['prompts/get', { name: 'greeting' }],
      ['resources/read', { uri: 'note://one' }],
      ['tasks/get', { taskId: 'task-1' }],
      ['tasks/update', { taskId: 'task-1', inputResponses: {} }],
      ['tasks/cancel', { taskId: 'task-1' }],
    ];
    const s = await stack();
    const bridge = await bridgeStack(dir);
    try {
      for (const url of [s.url, bridge.url])
        for (const [method, params] of named) {
          const wrong = await post(url, method, params, { 'mcp-name': 'not-the-body' });
          assert.equal(wrong.status, 400, `${method}: ${JSON.stringify(wrong.body)}`);
          assert.equal(wrong.body.error?.code, -32020, method);
          assert.equal(wrong.body.error?.data?.code, 'ERR_HEADER_MISMATCH', method);
          const missing = await post(url, method, params, { 'mcp-name': '' });
          assert.equal(missing.body.error?.code, -32020, `${method} with an empty Mcp-Name`);
        }
      assert.equal(s.upstream.received.length, 0, 'none of them went upstream');
    } finally {
      await bridge.close();
      await s.close();
    }
  });

  it('a malformed 2026-07-28 request without a session gets the specification error, not "initialize first"', async () => {
    const s = await stack();
    const raw = async (id: number, params: Record<string, unknown>, version = '2026-07-28') => {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': version,
          'mcp-method': 'server/discover',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'server/discover', params }),
      });
      return {
        status: res.status,
        body: (await res.json()) as { id: unknown; error: { code: number; data: Record<string, unknown> } },
      };
    };
    try {
      // The header names the modern revision and the body has no _meta: -32602 (basic/index.mdx).
      const noMeta = await raw(7, {});
      assert.equal(noMeta.status, 400);
      assert.equal(noMeta.body.error.code, -32602);
      assert.equal(noMeta.body.id, 7);
      const noVersion = await raw(8, { _meta: { [META.clientCapabilities]: {} } });
      assert.equal(noVersion.body.error.code, -32602);
      // A version intentguard does not implement: -32022 with the versions it supports and the one asked.
      const other = await raw(9, { _meta: { ...meta(), [META.protocolVersion]: 'v999' } }, 'v999');
      assert.equal(other.status, 400);
      assert.equal(other.body.error.code, -32022);
      assert.deepEqual(other.body.error.data.supported, ['2026-07-28']);
      assert.equal(other.body.error.data.requested, 'v999');
      // The body's version against another header: HeaderMismatch.
      const mismatch = await raw(10, { _meta: { ...meta(), [META.protocolVersion]: 'v999' } });
      assert.equal(mismatch.body.error.code, -32020);
      assert.equal(s.upstream.received.length, 0, 'nothing of them went upstream');
    } finally {
      await s.close();
    }
  });

  it('an MRTR approval runs the call once, across connections; the replayed and the altered state are refused', async () => {
    const s = await stack();
    try {
      const args = { title: 't', body: 'b' };
      // Held on one connection, retried on another: the approval belongs to the session, not the socket.
      const close = { connection: 'close' };
      const held = await post(s.url, 'tools/call', { name: 'write_note', arguments: args }, close);
      assert.equal(held.body.result?.resultType, 'input_required', JSON.stringify(held.body));
      const state = held.body.result!.requestState as string;
      const approve = { [APPROVAL_KEY]: { action: 'accept', content: { approve: true } } };
      const retry = { name: 'write_note', arguments: args, inputResponses: approve, requestState: state };
      const done = await post(s.url, 'tools/call', retry, close);
      assert.deepEqual(done.body.result?.content, [{ type: 'text', text: 'saved t' }]);
      const upstreamCall = s.upstream.received.find(
        (m) => (m.params as { name?: string }).name === 'write_note',
      )!;
      assert.ok(!('requestState' in (upstreamCall.params as object)));
      const replay = await post(s.url, 'tools/call', retry);
      assert.equal(replay.body.error?.code, RPC_CODES.REFUSED);
      assert.equal(replay.body.error?.data?.code, 'ERR_REQUEST_STATE_REPLAYED');
      const fresh = (await post(s.url, 'tools/call', { name: 'write_note', arguments: args })).body.result!
        .requestState as string;
      const altered = `${fresh.slice(0, -3)}${fresh.endsWith('AAA') ? 'BBB' : 'AAA'}`;
      const bad = await post(s.url, 'tools/call', { ...retry, requestState: altered });
      assert.equal(bad.body.error?.data?.code, 'ERR_REQUEST_STATE_INVALID');
      assert.equal(
        s.upstream.received.filter((m) => (m.params as { name?: string }).name === 'write_note').length,
        1,
      );
    } finally {
      await s.close();
    }
  });

  it('provenance holds across stateless requests on separate connections', async () => {
    const bank = await v2Bank();
    const payer = intentDir(
      'ig-era-http-bank-',
      'purpose: Pay the invoice from Blue Hills\ntools: [read_invoice, send_money]\n',
    );
    const s = await httpStack(bank, payer.dir);
    const close = { connection: 'close' };
    try {
      const invoice = await post(s.url, 'tools/call', { name: 'read_invoice', arguments: {} }, close);
      assert.match(JSON.stringify(invoice.body), new RegExp(STEERED_ACCOUNT));
      const pay = (recipient: string, amount: number) =>
        post(s.url, 'tools/call', { name: 'send_money', arguments: { recipient, amount } }, close);
      const honest = await pay(INVOICE_ACCOUNT, 80);
      assert.equal(honest.body.result?.resultType, 'complete', JSON.stringify(honest.body));
      // The steered account came from a tool result two connections ago: held, not paid.
      const steered = await pay(STEERED_ACCOUNT, 300);
      assert.equal(steered.body.result?.resultType, 'input_required', JSON.stringify(steered.body));
      assert.ok(
        !bank.received.some((m) => JSON.stringify(m).includes(`"recipient":"${STEERED_ACCOUNT}"`)),
        'the steered payment never reached the server',
      );
      // Held by the provenance rule, as recorded: the account's origin was a result two connections earlier.
      await s.runtime.recorder!.flush();
      const findings = s.runtime
        .store!.db.prepare<[], { findings_json: string }>(
          "SELECT findings_json FROM decisions WHERE tool = 'send_money' AND action = 'reauthorize'",
        )
        .all()
        .map((r) => r.findings_json)
        .join('\n');
      assert.match(findings, /"rule":"IG-PRV-005"/);
    } finally {
      await s.close();
      payer.remove();
    }
  });

  it('budget and halt hold across stateless requests on separate connections', async () => {
    const s = await stack();
    try {
      for (let i = 0; i < 4; i++) {
        const r = await post(
          s.url,
          'tools/call',
          { name: 'echo', arguments: { text: `${i}` } },
          { connection: 'close' },
        );
        assert.equal(r.body.result?.resultType, 'complete', JSON.stringify(r.body));
      }
      const over = await post(
        s.url,
        'tools/call',
        { name: 'echo', arguments: { text: 'x' } },
        { connection: 'close' },
      );
      assert.ok(
        over.body.error ?? over.body.result?.resultType === 'input_required',
        JSON.stringify(over.body),
      );
      // The pack halts a session over its budget; the halt holds for every later stateless request.
      assert.equal(over.body.error?.code, RPC_CODES.HALTED, JSON.stringify(over.body));
      const halted = await post(s.url, 'tools/call', { name: 'echo', arguments: { text: 'y' } });
      assert.equal(halted.body.error?.code, RPC_CODES.HALTED);
      assert.equal(halted.body.error?.data?.code, 'ERR_SESSION_HALTED');
    } finally {
      await s.close();
    }
  });
});
