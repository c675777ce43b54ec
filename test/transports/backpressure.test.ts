import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createRuntime } from '../../src/app/runtime.js';
import { VALVE_CHANNEL, type ValveEvent } from '../../src/carrier/valve.js';
import { runStdioProxy } from '../../src/transports/stdio.js';

/**
 * Back-pressure, measured in bytes over real sockets and processes: a peer that floods a slow one
 * must find itself paused, and what intentguard holds for the slow one (the bytes queued in its
 * sockets' user-space buffers) must stay bounded by the carrier's mark, not grow with the flood.
 *
 * The slow client reads only when intentguard reports (diagnostics channel `intentguard:carrier:valve`)
 * that it paused the fast side, and then only a slice: the flood advances by pauses, never by time.
 * Without back-pressure nothing pauses, the flood runs to its end into intentguard's buffers, and the
 * sample taken then is the whole flood.
 */

const dir = mkdtempSync(join(tmpdir(), 'ig-bp-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: read the log\ntools: []\n');
const COUNT = 2000;
const SIZE = 16 * 1024;
const FLOOD = COUNT * SIZE; // 32 MiB
/** A bound far below the flood and far above the carrier's 1 MiB mark plus one read and one write. */
const BOUND = 4 * 1024 * 1024;

const INIT = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 'init',
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'slow', version: '1' } },
})}\n`;

/** A connected pair of real TCP sockets on 127.0.0.1: `near` is the test's end, `far` intentguard's. */
async function socketPair(): Promise<{ near: Socket; far: Socket; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const far = new Promise<Socket>((r) => server.once('connection', r));
  const { port } = server.address() as { port: number };
  const { connect } = await import('node:net');
  const near = connect(port, '127.0.0.1');
  await new Promise<void>((r) => near.once('connect', () => r()));
  return { near, far: await far, server };
}

/**
 * A client that reads only while told to. Counts bytes and notifications received and checks that
 * the notifications arrive in order.
 */
function slowReader(socket: Socket) {
  socket.pause();
  let buf = '';
  let next = 0;
  const seen = { bytes: 0, notifications: 0, inOrder: true };
  socket.on('data', (c: Buffer) => {
    seen.bytes += c.length;
    buf += c.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = JSON.parse(line) as { method?: string; params?: { data?: string } };
      if (m.method !== 'notifications/message') continue;
      if (!m.params!.data!.startsWith(`${next}:`)) seen.inOrder = false;
      next++;
      seen.notifications++;
    }
  });
  return { seen, read: () => socket.resume(), stop: () => socket.pause() };
}

/**
 * The slow client's pace: it reads only while intentguard holds the flooding side paused (from its
 * `pause` to its `resume` on the diagnostics channel), so the flood advances by pauses, never by time.
 * `sample` runs at every pause.
 */
function paceBy(label: string, reader: { read(): void; stop(): void }, sample: () => void) {
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

describe('back-pressure: a slow peer pauses the fast one, memory stays bounded', () => {
  it('stdio: a server flooding a client that does not read is paused; intentguard buffers at most the mark (count bytes)', async (t) => {
    const runtime = await createRuntime({
      mode: 'enforce',
      db: false,
      pack: false,
      rules: [],
      intentFile,
      log: () => undefined,
    });
    const { near, far, server } = await socketPair();
    const reader = slowReader(near);
    let maxHeld = 0;
    const sample = () => {
      maxHeld = Math.max(maxHeld, far.writableLength);
    };
    const pace = paceBy('stdio s2c', reader, sample);
    try {
      const done = runStdioProxy({
        command: process.execPath,
        args: ['test/transports/fixtures/flood-server.mjs'],
        env: { ...process.env, FLOOD_COUNT: String(COUNT), FLOOD_SIZE: String(SIZE) },
        runtime,
        input: far,
        output: far,
        log: () => undefined,
      });
      near.write(INIT);
      // The server exits once the whole flood left it: with back-pressure only as fast as the client read.
      assert.equal(await done, 0);
      sample();
      reader.read();
      await waitForCount(() => reader.seen.notifications === COUNT);
      assert.ok(reader.seen.inOrder, 'every notification arrived, in order');
      t.diagnostic(`held at most ${maxHeld} bytes of a ${FLOOD}-byte flood; ${pace.counts.pauses} pauses`);
      assert.ok(
        maxHeld <= BOUND,
        `intentguard held at most ${BOUND} bytes for the slow client (held ${maxHeld} of a ${FLOOD}-byte flood)`,
      );
      assert.ok(
        pace.counts.pauses >= 3,
        `the flooding server was paused again and again (${pace.counts.pauses})`,
      );
    } finally {
      pace.stop();
      near.destroy();
      far.destroy();
      server.close();
      await runtime.close();
    }
  });
});

/** Resolves once `cond` holds, checked after every I/O turn (no clock involved). */
function waitForCount(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (cond() ? resolve() : setImmediate(check));
    check();
  });
}
