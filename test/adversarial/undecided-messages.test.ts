// Issue 11 §3: nothing reaches a server without a decision. A tools/call sent as a notification, method
// names a server might normalise, tools/call arguments that are not an object, requests before
// initialize and a second initialize: each is refused with its own code (and recorded), through the
// real stdio proxy in front of a server that would run them, and through the in-process tap.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  InitializeResultSchema,
  LATEST_PROTOCOL_VERSION,
  McpError,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { RPC_CODES, createMonitor, parseIntent, tap } from '../../src/index.js';
import { MCP_METHODS, methodProblem, methodSkeleton } from '../../src/events/methods.js';
import { openStore } from '../../src/store/db.js';
import { demoServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/wait.js';
import { EVERYTHING, INIT, handshake, stdioProxy } from './wire.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-undecided-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things\ntools: [echo, write_note]\n');

/** `intentguard stdio` in front of the eager server; `ran()` lists the calls that reached it and ran. */
function eager() {
  const ran = join(dir, `ran-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(ran, '');
  process.env.RAN = ran;
  const p = stdioProxy(intentFile, [process.execPath, 'test/adversarial/fixtures/eager-server.mjs']);
  return { p, ran: () => readFileSync(ran, 'utf8').split('\n').filter(Boolean) };
}

const call = (method: string, id: number | undefined, params: unknown) =>
  JSON.stringify({ jsonrpc: '2.0', ...(id !== undefined && { id }), method, params });

/** The codes of the decisions recorded for a session's refused events. */
function refusedCodes(db: string): string[] {
  const store = openStore(db, { readonly: true });
  const rows = store.db
    .prepare("SELECT findings_json FROM decisions WHERE action = 'deny'")
    .pluck()
    .all() as string[];
  store.close();
  return rows.flatMap((f) => (JSON.parse(f) as Array<{ code?: string }>).map((x) => x.code ?? ''));
}

describe('nothing reaches a server without a decision (issue 11 §3)', () => {
  it('tools/call as a notification (no id) is refused and the refusal recorded; the server never runs it', async () => {
    const { p, ran } = eager();
    await handshake(p);
    p.send(call('tools/call', undefined, { name: 'write_note', arguments: { text: 'no id' } }));
    p.send(call('sampling/createMessage', undefined, { messages: [] }));
    p.send(call('tools/call', 1, { name: 'write_note', arguments: { text: 'control' } }));
    await p.waitAnswers(1);
    await p.close();
    assert.deepEqual(ran(), ['write_note'], 'only the call with an id, decided and allowed, ran');
    assert.equal(
      refusedCodes(p.db).filter((c) => c === 'ERR_NOTIFICATION_METHOD').length,
      2,
      'each refusal is recorded',
    );
  });

  it('method names a server might normalise are refused with ERR_METHOD_NOT_CANONICAL; none reaches the server', async () => {
    const { p, ran } = eager();
    await handshake(p);
    const variants = [
      'tools/call ',
      ' tools/call',
      'Tools/Call',
      'TOOLS/CALL',
      'tools/call\u200b',
      'tools/call\u0000',
      '\ufefftools/call',
      'ｔｏｏｌｓ/call',
      'tools.call',
      'tools//call',
      'tools\\call',
      'tools/call\n',
      'tools/cal\u006c\u0301',
    ];
    variants.forEach((m, i) =>
      p.send(call(m, 100 + i, { name: 'write_note', arguments: { text: 'variant' } })),
    );
    // …and the same as notifications (no id): no answer, still refused.
    for (const m of variants)
      p.send(call(m, undefined, { name: 'write_note', arguments: { text: 'variant' } }));
    p.send(call('tools/call', 1, { name: 'write_note', arguments: { text: 'control' } }));
    await p.waitAnswers(1);
    for (let i = 0; i < variants.length; i++) {
      await p.waitAnswers(100 + i);
      const a = p.answers(100 + i)[0]!;
      assert.equal(a.error?.data?.code, 'ERR_METHOD_NOT_CANONICAL', JSON.stringify(variants[i]));
    }
    await p.close();
    assert.deepEqual(ran(), ['write_note'], 'no variant ran');
  });

  it('tools/call arguments given as an array, null, a string or a number get ERR_TOOL_CALL_PARAMS; absent arguments are {}', async () => {
    const { p, ran } = eager();
    await handshake(p);
    const bad = [[], null, 'text=hi', 42, true];
    bad.forEach((a, i) => p.send(call('tools/call', 10 + i, { name: 'write_note', arguments: a })));
    p.send(call('tools/call', 1, { name: 'write_note' }));
    await p.waitAnswers(1);
    assert.ok(p.answers(1)[0]!.result, 'absent arguments are accepted (the SDK schema makes them optional)');
    for (let i = 0; i < bad.length; i++) {
      await p.waitAnswers(10 + i);
      assert.equal(p.answers(10 + i)[0]!.error?.data?.code, 'ERR_TOOL_CALL_PARAMS', JSON.stringify(bad[i]));
    }
    await p.close();
    assert.deepEqual(ran(), ['write_note'], 'only the call with absent arguments ran');
  });

  it('requests before initialize are refused (ping excepted); a second initialize is refused: over intentguard stdio with server-everything', async () => {
    const p = stdioProxy(intentFile, [process.execPath, EVERYTHING, 'stdio']);
    p.send(call('tools/call', 1, { name: 'echo', arguments: { message: 'too early' } }));
    p.send('{"jsonrpc":"2.0","id":2,"method":"ping"}');
    await p.waitAnswers(1);
    await p.waitAnswers(2);
    assert.equal(p.answers(1)[0]!.error?.data?.code, 'ERR_NOT_INITIALIZED');
    assert.ok(p.answers(2)[0]!.result, 'ping is answered by the server');
    await handshake(p);
    p.send(INIT[0]!.replace('"id":0', '"id":3').replace('"name":"raw"', '"name":"someone-else"'));
    await p.waitAnswers(3);
    assert.equal(p.answers(3)[0]!.error?.data?.code, 'ERR_ALREADY_INITIALIZED');
    p.send(call('tools/call', 4, { name: 'echo', arguments: { message: 'in order' } }));
    await p.waitAnswers(4);
    assert.ok(p.answers(4)[0]!.result, 'the session goes on');
    await p.close();
  });

  it('through the in-process tap with the real SDK Client and McpServer: a second initialize is refused, and a request before initialize', async () => {
    const monitor = createMonitor();
    const [c, s] = InMemoryTransport.createLinkedPair();
    await demoServer().connect(s);
    const transport = tap(c, monitor, {
      side: 'client',
      intent: parseIntent({ purpose: 'p', tools: ['echo'] }),
    });
    // Before the client connects: a raw request on the tapped transport gets intentguard's error.
    const early: JSONRPCMessage[] = [];
    transport.onmessage = (m) => early.push(m);
    await transport.start();
    await transport.send({ jsonrpc: '2.0', id: 'early', method: 'tools/list' });
    await waitFor(() => early.length > 0, 'the answer to the early request');
    assert.equal(
      (early[0] as { error?: { data?: { code?: string } } }).error?.data?.code,
      'ERR_NOT_INITIALIZED',
    );
    const client = new Client({ name: 'agent', version: '1' });
    // connect() starts the transport again: a tap's start delegates, and InMemory allows one start.
    (transport as { start: () => Promise<void> }).start = async () => undefined;
    await client.connect(transport);
    await assert.rejects(
      client.request(
        {
          method: 'initialize',
          params: {
            protocolVersion: LATEST_PROTOCOL_VERSION,
            capabilities: {},
            clientInfo: { name: 'other', version: '2' },
          },
        },
        InitializeResultSchema,
      ),
      (e: unknown) => {
        assert.equal((e as McpError).code, RPC_CODES.REFUSED);
        assert.equal(((e as McpError).data as { code: string }).code, 'ERR_ALREADY_INITIALIZED');
        return true;
      },
    );
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'still bound' } })).content, [
      { type: 'text', text: 'still bound' },
    ]);
    await client.close();
    monitor.close();
  });

  it("the method list matches the SDK's schemas, and no two methods share a skeleton", async () => {
    const src = readFileSync('node_modules/@modelcontextprotocol/sdk/dist/esm/types.js', 'utf8');
    const sdk = new Set([...src.matchAll(/method: z\.literal\('([^']+)'\)/g)].map((m) => m[1]!));
    for (const m of sdk) assert.ok(MCP_METHODS.has(m), `${m} (in the SDK) is known`);
    assert.equal(new Set([...MCP_METHODS].map(methodSkeleton)).size, MCP_METHODS.size);
    for (const m of MCP_METHODS) assert.equal(methodProblem(m), undefined, m);
    assert.equal(
      methodProblem('x-vendor/do.thing'),
      undefined,
      'other printable names pass (servers answer them as unknown)',
    );
    assert.ok(existsSync('node_modules/@modelcontextprotocol/sdk/dist/esm/types.js'));
  });
});
