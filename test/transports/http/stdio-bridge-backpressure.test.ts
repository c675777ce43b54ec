import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startHttpProxy } from '../../../src/transports/http/server.js';
import {
  COUNT,
  INITIALIZED,
  SIZE,
  assertBounded,
  floodRuntime,
  getStream,
  heldBy,
  initSession,
  paceBy,
  readTheRest,
  slowReader,
  waitForCount,
} from '../../helpers/flood.js';

const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/**
 * Back-pressure in front of a stdio server (`intentguard http -- <command>`, see test/helpers/flood.ts):
 * a server process flooding the GET stream of a client that does not read is paused (its stdout is not
 * read), and what intentguard holds for the client stays bounded by the carrier's mark.
 */
describe('back-pressure: Streamable HTTP in front of a stdio server', () => {
  it('a server flooding the GET stream of a client that does not read is paused; intentguard buffers at most the mark', async (t) => {
    const runtime = await floodRuntime();
    const proxy = await startHttpProxy({
      runtime,
      server: {
        command: process.execPath,
        args: ['test/transports/fixtures/flood-server.mjs'],
        env: {
          ...process.env,
          FLOOD_COUNT: String(COUNT),
          FLOOD_SIZE: String(SIZE),
          FLOOD_AFTER: 'notifications/initialized',
        },
      },
    });
    const sockets: Socket[] = [];
    proxy.server.on('connection', (s: Socket) => sockets.push(s));
    const { held, sample } = heldBy(() => sockets);
    try {
      const sid = await initSession(proxy.url);
      const stream = await getStream(proxy.url, { 'mcp-session-id': sid });
      assert.equal(stream.statusCode, 200);
      const reader = slowReader(stream, 'data: ');
      const pace = paceBy('http-stdio s2c', reader, sample);
      try {
        // The flood starts now, onto the GET stream (the server's messages belong to no request).
        const go = await fetch(proxy.url, {
          method: 'POST',
          headers: { ...json, 'mcp-session-id': sid },
          body: JSON.stringify(INITIALIZED),
        });
        assert.equal(go.status, 202);
        // The server exits once the whole flood left it, only as fast as the slow client reads (with
        // back-pressure); its session then ends.
        await readTheRest(
          waitForCount(() => runtime.monitor.sessions().length === 0),
          sample,
          pace,
          reader,
        );
      } finally {
        pace.stop();
        stream.destroy();
      }
      assertBounded(t, held.max, pace.counts.pauses, reader.seen, 'server');
    } finally {
      await proxy.close();
      await runtime.close();
    }
  });
});
