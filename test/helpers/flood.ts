import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { get as httpGet, type IncomingMessage } from 'node:http';
import type { TestContext } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createRuntime } from '../../src/app/runtime.js';
import { VALVE_CHANNEL, type ValveEvent } from '../../src/carrier/valve.js';

/**
 * What the back-pressure tests share: a flood of COUNT notifications of SIZE bytes (32 MiB) from a
 * server to a client that reads only while intentguard reports (diagnostics channel
 * `intentguard:carrier:valve`) that it paused the flooding side, and then only until it resumes: the
 * flood advances by pauses, never by time. Without back-pressure nothing pauses, the flood runs to its
 * end into intentguard's buffers, and the sample taken then is the whole flood.
 */
export const COUNT = 2000;
export const SIZE = 16 * 1024;
export const FLOOD = COUNT * SIZE; // 32 MiB
/** A bound far below the flood and far above the carrier's 1 MiB mark plus one read and one write. */
export const BOUND = 4 * 1024 * 1024;

export const INIT_MESSAGE = {
  jsonrpc: '2.0',
  id: 'init',
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'slow', version: '1' } },
};
export const INIT = `${JSON.stringify(INIT_MESSAGE)}\n`;
export const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };

/** The i-th notification of the flood (its data starts with `i:`, so order can be checked). */
export const floodMessage = (i: number, filler = 'x'.repeat(SIZE)) =>
  JSON.stringify({
    jsonrpc: '2.0',
    method: 'notifications/message',
    params: { level: 'info', data: `${i}:${filler}` },
  });

/** A runtime enforcing an intent with no tools, no pack, no store: the carrier alone. */
export async function floodRuntime() {
  const dir = mkdtempSync(join(tmpdir(), 'ig-bp-'));
  const intentFile = join(dir, 'intent.yaml');
  writeFileSync(intentFile, 'purpose: read the log\ntools: []\n');
  return createRuntime({
    mode: 'enforce',
    db: false,
    pack: false,
    rules: [],
    intentFile,
    log: () => undefined,
  });
}

/** What a slow client has received: bytes, flood notifications, and whether they came in order. */
export interface Seen {
  bytes: number;
  notifications: number;
  inOrder: boolean;
}

/** Count one received message (parsed) into `seen`. */
export function countMessage(seen: Seen, m: { method?: string; params?: { data?: string } }): void {
  if (m.method !== 'notifications/message') return;
  if (!m.params!.data!.startsWith(`${seen.notifications}:`)) seen.inOrder = false;
  seen.notifications++;
}

/**
 * A client that reads a line-framed stream only while told to (`prefix`: `data: ` for an event
 * stream). Counts bytes and flood notifications received and checks that they arrive in order.
 */
export function slowReader(socket: Readable, prefix = '') {
  socket.pause();
  let buf = '';
  const seen: Seen = { bytes: 0, notifications: 0, inOrder: true };
  socket.on('data', (c: Buffer) => {
    seen.bytes += c.length;
    buf += c.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith(prefix) || line.length === prefix.length) continue;
      countMessage(seen, JSON.parse(line.slice(prefix.length)) as Parameters<typeof countMessage>[1]);
    }
  });
  return { seen, read: () => socket.resume(), stop: () => socket.pause() };
}

/**
 * The slow client's pace: it reads only while intentguard holds the flooding side paused (from its
 * `pause` to its `resume` on the diagnostics channel, for the valve named `label`). `sample` runs at
 * every pause.
 */
export function paceBy(label: string, reader: { read(): void; stop(): void }, sample: () => void) {
  const counts = { pauses: 0 };
  const onValve = (e: unknown) => {
    const ev = e as ValveEvent;
    if (ev.label !== label) return;
    if (ev.state === 'pause') {
      counts.pauses++;
      sample();
      reader.read();
    } else reader.stop();
  };
  subscribe(VALVE_CHANNEL, onValve);
  return { counts, stop: () => unsubscribe(VALVE_CHANNEL, onValve) };
}

/** The most bytes any of `sockets` held queued for writing, sampled at each call of `sample`. */
export function heldBy(sockets: () => Iterable<Socket>) {
  const held = { max: 0 };
  return {
    held,
    sample: () => {
      for (const s of sockets()) held.max = Math.max(held.max, s.writableLength);
    },
  };
}

/** Resolves once `cond` holds, checked after every I/O turn (no clock involved). */
export function waitForCount(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (cond() ? resolve() : setImmediate(check));
    check();
  });
}

/** `GET url` as an event stream (no agent: its own connection), once its headers arrived. */
export function getStream(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) =>
    httpGet(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, resolve).on(
      'error',
      reject,
    ),
  );
}

/** `initialize` over Streamable HTTP: the session id intentguard answered with. */
export async function initSession(url: string): Promise<string> {
  const init = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(INIT_MESSAGE),
  });
  assert.equal(init.status, 200);
  await init.text();
  return init.headers.get('mcp-session-id')!;
}

/**
 * Once the flood has left the flooding side (`done`), take a last sample and let the client read
 * everything, whatever intentguard reports; resolves once every notification arrived.
 */
export async function readTheRest(
  done: Promise<unknown>,
  sample: () => void,
  pace: { stop(): void },
  reader: { read(): void; seen: Seen },
): Promise<void> {
  await done;
  sample();
  pace.stop();
  reader.read();
  await waitForCount(() => reader.seen.notifications === COUNT);
}

/** What every flood test asserts: in order, bounded by {@link BOUND}, the flooding side paused again and again. */
export function assertBounded(t: TestContext, held: number, pauses: number, seen: Seen, side: string): void {
  t.diagnostic(`held at most ${held} bytes of a ${FLOOD}-byte flood; ${pauses} pauses`);
  assert.ok(seen.inOrder, 'every notification arrived, in order');
  assert.ok(
    held <= BOUND,
    `intentguard held at most ${BOUND} bytes for the slow client (held ${held} of a ${FLOOD}-byte flood)`,
  );
  assert.ok(pauses >= 3, `the flooding ${side} was paused again and again (${pauses})`);
}
