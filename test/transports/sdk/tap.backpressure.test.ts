import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  createMonitor,
  parseIntent,
  tap,
  type Monitor,
  type Policy,
  type SessionEvent,
  type SessionHandle,
} from '../../../src/index.js';
import { demoServer } from '../../helpers/servers.js';

/**
 * Back-pressure for the in-process tap: an SDK transport cannot pause delivery, so the tap counts. While
 * decisions are held (a policy that answers only when the test lets it), a flood of local sends waits
 * at the mark (`highWater` in flight) and past `maxBacklog` waiting is refused with ERR_TAP_BACKLOG;
 * a flood from the remote peer past `maxBacklog` ends the session (fail closed). Without the hand-off
 * every message of the flood would be shown to the monitor and held.
 */
const intent = parseIntent({ purpose: 'summarise my notes', tools: ['echo'] });
const HIGH = 16;
const BACKLOG = 64;
const FLOOD = 2000;

/** A policy that holds every event `held` picks until `open()`; counts the events it was shown. */
function gate(held: (e: SessionEvent) => boolean) {
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  const seen = { held: 0 };
  const policy: Policy = {
    name: 'gate',
    evaluate: ({ event }) => {
      if (!held(event)) return { action: 'allow', findings: [] };
      seen.held++;
      return opened.then(() => ({ action: 'allow', findings: [] }));
    },
  };
  return { policy, seen, open: release };
}

const isCall = (e: SessionEvent) => e.kind === 'request' && e.method === 'tools/call';
/** The stable code of a refusal: an McpError's `data.code`, or an IntentGuardError's `code`. */
const codeOf = (e: unknown): unknown =>
  e instanceof McpError ? (e.data as { code?: string } | undefined)?.code : (e as { code?: unknown }).code;

/**
 * A monitor with the gate as its only policy (decisions wait for the gate, never for a clock), and a
 * count of the messages each method the tap handed its sessions (what the monitor holds while held).
 */
function monitorWith(policy: Policy) {
  const real = createMonitor({ policy, decisionTimeoutMs: 3_600_000 });
  const handed = new Map<string, number>();
  const monitor: Monitor = {
    ...real,
    open: (o) => {
      const handle = real.open(o);
      return Object.assign(Object.create(handle) as SessionHandle, {
        observe: (...args: Parameters<SessionHandle['observe']>) => {
          const method = (args[1] as { method?: string }).method ?? '';
          handed.set(method, (handed.get(method) ?? 0) + 1);
          return handle.observe(...args);
        },
      });
    },
  };
  return { monitor, handed: (method: string) => handed.get(method) ?? 0 };
}

/** Let every pending promise job and I/O turn run (no clock). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
};

/**
 * How each promise settled so far, once those that settle without a decision have (after a fixed
 * number of I/O turns, no clock): `pending` for one still waiting. A flood the tap does not bound
 * leaves every promise pending instead of hanging the test.
 */
async function settledSoFar<T>(promises: readonly Promise<T>[]) {
  const states: (PromiseSettledResult<T> | 'pending')[] = promises.map(() => 'pending');
  promises.forEach((p, i) =>
    p.then(
      (value) => (states[i] = { status: 'fulfilled', value }),
      (reason: unknown) => (states[i] = { status: 'rejected', reason }),
    ),
  );
  await settle();
  return states;
}

/** Every one refused with ERR_TAP_BACKLOG. */
const allBacklog = (states: readonly (PromiseSettledResult<unknown> | 'pending')[]) =>
  states.every((s) => s !== 'pending' && s.status === 'rejected' && codeOf(s.reason) === 'ERR_TAP_BACKLOG');

describe('tap back-pressure: a bounded hand-off over InMemoryTransport with a real Client and McpServer', () => {
  it('a local client flooding calls waits at the mark; past the backlog its sends are refused with ERR_TAP_BACKLOG', async () => {
    const g = gate(isCall);
    const { monitor, handed } = monitorWith(g.policy);
    const [clientT, serverT] = InMemoryTransport.createLinkedPair();
    await demoServer().connect(serverT);
    const client = new Client({ name: 'flood', version: '1' });
    await client.connect(
      tap(clientT, monitor, { side: 'client', intent, highWater: HIGH, maxBacklog: BACKLOG }),
    );
    const calls = Array.from({ length: FLOOD }, (_, i) =>
      client.callTool({ name: 'echo', arguments: { text: `${i}` } }, undefined, { timeout: 3_600_000 }),
    );
    const refused = await settledSoFar(calls.slice(HIGH + BACKLOG));
    assert.equal(handed('tools/call'), HIGH, 'the monitor was handed only the calls within the mark');
    assert.ok(allBacklog(refused), 'every send past the backlog was refused with ERR_TAP_BACKLOG');
    g.open();
    const admitted = await Promise.all(calls.slice(0, HIGH + BACKLOG));
    assert.deepEqual(
      admitted.map((r) => (r.content as { text: string }[])[0]!.text),
      Array.from({ length: HIGH + BACKLOG }, (_, i) => `${i}`),
      'the calls that waited were decided and answered, in order',
    );
    assert.equal(handed('tools/call'), HIGH + BACKLOG, 'no refused call reached the monitor');
    assert.equal(g.seen.held, HIGH + BACKLOG);
    await client.close();
  });

  it('a local server flooding notifications waits at the mark; the client receives what was admitted, in order', async () => {
    const isLog = (e: SessionEvent) => e.kind === 'notification' && e.method === 'notifications/message';
    const g = gate(isLog);
    const { monitor, handed } = monitorWith(g.policy);
    const [clientT, serverT] = InMemoryTransport.createLinkedPair();
    const server = new McpServer({ name: 'flood', version: '1' }, { capabilities: { logging: {} } });
    await server.connect(
      tap(serverT, monitor, { side: 'server', intent, highWater: HIGH, maxBacklog: BACKLOG }),
    );
    const client = new Client({ name: 'reader', version: '1' });
    const received: string[] = [];
    client.fallbackNotificationHandler = async (n) => {
      if (n.method === 'notifications/message') received.push(String((n.params as { data: unknown }).data));
    };
    await client.connect(clientT);
    const sends = Array.from({ length: FLOOD }, (_, i) =>
      server.server.notification({
        method: 'notifications/message',
        params: { level: 'info', data: `${i}` },
      }),
    );
    const refused = await settledSoFar(sends.slice(HIGH + BACKLOG));
    assert.equal(
      handed('notifications/message'),
      HIGH,
      'the monitor was handed only the notifications within the mark',
    );
    assert.ok(allBacklog(refused), 'every send past the backlog was refused with ERR_TAP_BACKLOG');
    assert.equal(received.length, 0, 'nothing held was delivered before its decision');
    g.open();
    await Promise.all(sends.slice(0, HIGH + BACKLOG));
    await settle();
    assert.deepEqual(
      received,
      Array.from({ length: HIGH + BACKLOG }, (_, i) => `${i}`),
    );
    await client.close();
  });

  it('a remote client flooding calls past the backlog ends the session with ERR_TAP_BACKLOG; nothing reaches the server', async () => {
    const g = gate(isCall);
    const { monitor, handed } = monitorWith(g.policy);
    const [clientT, serverT] = InMemoryTransport.createLinkedPair();
    const server = demoServer();
    let reached = 0;
    const guarded: Transport = tap(serverT, monitor, {
      side: 'server',
      intent,
      highWater: HIGH,
      maxBacklog: BACKLOG,
    });
    const tapErrors: unknown[] = [];
    await server.connect(guarded);
    const onMessage = guarded.onmessage!;
    guarded.onmessage = (m, extra) => {
      if ('method' in m && m.method === 'tools/call') reached++;
      onMessage(m, extra);
    };
    const serverOnError = guarded.onerror;
    guarded.onerror = (e) => {
      tapErrors.push(e);
      serverOnError?.(e);
    };
    const client = new Client({ name: 'flood', version: '1' });
    client.onerror = () => undefined;
    await client.connect(clientT);
    const calls = Array.from({ length: FLOOD }, (_, i) =>
      client.callTool({ name: 'echo', arguments: { text: `${i}` } }, undefined, { timeout: 3_600_000 }),
    );
    const results = await settledSoFar(calls);
    assert.ok(
      results.every((r) => r !== 'pending' && r.status === 'rejected'),
      'every call of the flood failed (none answered with a result, none left waiting)',
    );
    // Narrowed by the assertion above: every one rejected.
    const codes = results.map((r) => codeOf(r.reason));
    assert.ok(codes.includes('ERR_TAP_BACKLOG'), 'the calls still owed an answer got ERR_TAP_BACKLOG');
    assert.ok(
      handed('tools/call') <= BACKLOG + 1,
      `the monitor was handed at most the backlog (${handed('tools/call')})`,
    );
    assert.equal(reached, 0, 'no call of the flood reached the server');
    assert.ok(
      tapErrors.some((e) => codeOf(e) === 'ERR_TAP_BACKLOG'),
      'the local server heard ERR_TAP_BACKLOG',
    );
    assert.equal(monitor.sessions().length, 0, 'the session ended');
    g.open();
    await settle();
    assert.equal(reached, 0, 'nothing was delivered after the session ended');
  });
});
