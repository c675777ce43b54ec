import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { describe, it } from 'node:test';
import { runStdioProxy } from '../../src/transports/stdio.js';
import {
  COUNT,
  INIT,
  SIZE,
  assertBounded,
  floodRuntime,
  getStream,
  initSession,
  paceBy,
  readTheRest,
  slowReader,
} from '../helpers/flood.js';

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

describe('back-pressure: a slow peer pauses the fast one, memory stays bounded', () => {
  it('stdio: a server flooding a client that does not read is paused; intentguard buffers at most the mark (count bytes)', async (t) => {
    const runtime = await floodRuntime();
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
      await readTheRest(Promise.resolve(), sample, pace, reader);
      assertBounded(t, maxHeld, pace.counts.pauses, reader.seen, 'server');
    } finally {
      pace.stop();
      near.destroy();
      far.destroy();
      server.close();
      await runtime.close();
    }
  });

  it('Streamable HTTP: an upstream flooding the GET stream of a client that does not read is paused; intentguard buffers at most the mark', async (t) => {
    const runtime = await floodRuntime();
    // The upstream: initialize over POST, then a GET stream of COUNT notifications written as fast as
    // its socket takes them.
    let flooded!: () => void;
    const floodDone = new Promise<void>((r) => (flooded = r));
    const upstream = createHttpServer((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString('utf8')));
        req.on('end', () => {
          const m = JSON.parse(body) as { id?: unknown; method: string };
          if (m.method !== 'initialize') return void res.writeHead(202).end();
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-1' }).end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: m.id,
              result: {
                protocolVersion: '2025-06-18',
                capabilities: {},
                serverInfo: { name: 'flood', version: '1' },
              },
            }),
          );
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const filler = 'x'.repeat(SIZE);
      let i = 0;
      const more = () => {
        while (i < COUNT) {
          const m = {
            jsonrpc: '2.0',
            method: 'notifications/message',
            params: { level: 'info', data: `${i}:${filler}` },
          };
          i++;
          if (!res.write(`data: ${JSON.stringify(m)}\n\n`)) return void res.once('drain', more);
        }
        res.end(flooded);
      };
      more();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/mcp`;
    const proxy = await startHttpProxy({ upstream: upUrl, runtime });
    const sockets: Socket[] = [];
    proxy.server.on('connection', (s: Socket) => sockets.push(s));
    let maxHeld = 0;
    const sample = () => {
      for (const s of sockets) maxHeld = Math.max(maxHeld, s.writableLength);
    };
    try {
      const sid = await initSession(proxy.url);
      const stream = await getStream(proxy.url, { 'mcp-session-id': sid });
      assert.equal(stream.statusCode, 200);
      const reader = slowReader(stream, 'data: ');
      const pace = paceBy('http sse', reader, sample);
      try {
        // The upstream finishes its flood only as fast as the slow client reads (with back-pressure);
        // from then on the client reads everything, whatever intentguard reports.
        await readTheRest(floodDone, sample, pace, reader);
      } finally {
        pace.stop();
        stream.destroy();
      }
      assertBounded(t, maxHeld, pace.counts.pauses, reader.seen, 'upstream');
    } finally {
      await proxy.close();
      upstream.closeAllConnections();
      upstream.close();
      await runtime.close();
    }
  });
});
