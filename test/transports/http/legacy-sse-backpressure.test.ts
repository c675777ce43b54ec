import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startHttpProxy } from '../../../src/transports/http/server.js';
import {
  COUNT,
  INIT_MESSAGE,
  assertBounded,
  floodMessage,
  floodRuntime,
  getStream,
  heldBy,
  paceBy,
  readTheRest,
  slowReader,
} from '../../helpers/flood.js';

/**
 * A legacy HTTP+SSE server (2024-11-05) that answers initialize on its stream and then floods it with
 * COUNT notifications as fast as its socket takes them (waiting for `drain`), then ends the stream.
 */
function floodingSseServer(flooded: () => void) {
  let stream: ServerResponse | undefined;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: endpoint\ndata: /messages\n\n');
      stream = res;
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      res.writeHead(202).end();
      const m = JSON.parse(body) as { id?: unknown; method: string };
      if (m.method !== 'initialize' || !stream) return;
      const s = stream;
      const result = {
        protocolVersion: '2024-11-05',
        capabilities: {},
        serverInfo: { name: 'flood', version: '1' },
      };
      s.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result })}\n\n`);
      let i = 0;
      const more = () => {
        while (i < COUNT)
          if (!s.write(`event: message\ndata: ${floodMessage(i++)}\n\n`)) return void s.once('drain', more);
        s.end(flooded);
      };
      more();
    });
  });
  return server;
}

/**
 * Back-pressure over legacy HTTP+SSE (see test/helpers/flood.ts): an upstream flooding the stream of a
 * client that does not read is paused, and what intentguard holds for the client stays bounded.
 */
describe('back-pressure: legacy HTTP+SSE', () => {
  it('an upstream flooding the stream of a client that does not read is paused; intentguard buffers at most the mark', async (t) => {
    const runtime = await floodRuntime();
    let flooded!: () => void;
    const floodDone = new Promise<void>((r) => (flooded = r));
    const upstream = floodingSseServer(flooded);
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/sse`;
    const proxy = await startHttpProxy({ upstream: upUrl, runtime });
    const sockets: Socket[] = [];
    proxy.server.on('connection', (s: Socket) => sockets.push(s));
    const { held, sample } = heldBy(() => sockets);
    try {
      const stream = await getStream(proxy.url);
      assert.equal(stream.statusCode, 200);
      // The endpoint event names where to POST (intentguard's own /messages?sessionId=…).
      const endpoint = await new Promise<string>((resolve) => {
        let buf = '';
        const onData = (c: Buffer) => {
          buf += c.toString('utf8');
          const found = /event: endpoint\ndata: (.*)\n/.exec(buf);
          if (!found) return;
          stream.off('data', onData);
          resolve(found[1]!);
        };
        stream.on('data', onData);
      });
      const reader = slowReader(stream, 'data: ');
      const pace = paceBy('sse stream', reader, sample);
      try {
        const post = await fetch(new URL(endpoint, proxy.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(INIT_MESSAGE),
        });
        assert.equal(post.status, 202);
        // The upstream finishes its flood only as fast as the slow client reads (with back-pressure).
        await readTheRest(floodDone, sample, pace, reader);
      } finally {
        pace.stop();
        stream.destroy();
      }
      assertBounded(t, held.max, pace.counts.pauses, reader.seen, 'upstream');
    } finally {
      await proxy.close();
      upstream.closeAllConnections();
      upstream.close();
      await runtime.close();
    }
  });
});
