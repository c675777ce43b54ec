import assert from 'node:assert/strict';
import { get as httpGet, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startHttpProxy } from '../../../src/transports/http/server.js';
import {
  BOUND,
  COUNT,
  FLOOD,
  INITIALIZED,
  INIT_MESSAGE,
  SIZE,
  floodRuntime,
  heldBy,
  paceBy,
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
      const init = await fetch(proxy.url, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(INIT_MESSAGE),
      });
      assert.equal(init.status, 200);
      await init.text();
      const sid = init.headers.get('mcp-session-id')!;
      const stream = await new Promise<IncomingMessage>((resolve, reject) =>
        httpGet(
          proxy.url,
          { agent: false, headers: { accept: 'text/event-stream', 'mcp-session-id': sid } },
          resolve,
        ).on('error', reject),
      );
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
        await waitForCount(() => runtime.monitor.sessions().length === 0);
        sample();
        pace.stop();
        reader.read();
        await waitForCount(() => reader.seen.notifications === COUNT);
      } finally {
        pace.stop();
        stream.destroy();
      }
      t.diagnostic(`held at most ${held.max} bytes of a ${FLOOD}-byte flood; ${pace.counts.pauses} pauses`);
      assert.ok(reader.seen.inOrder, 'every notification arrived, in order');
      assert.ok(
        held.max <= BOUND,
        `intentguard held at most ${BOUND} bytes for the slow client (held ${held.max} of a ${FLOOD}-byte flood)`,
      );
      assert.ok(
        pace.counts.pauses >= 3,
        `the flooding server was paused again and again (${pace.counts.pauses})`,
      );
    } finally {
      await proxy.close();
      await runtime.close();
    }
  });
});
