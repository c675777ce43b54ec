import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpPool, type HttpPool } from '../../src/lib/http-pool.js';
import { waitFor } from '../helpers/wait.js';

const isStream = (t: string) => t.startsWith('text/event-stream');

describe('httpPool: requests upstream on undici', () => {
  const held: ServerResponse[] = [];
  const closed: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.on('close', () => closed.push(req.url ?? ''));
      if (req.url === '/json')
        res.writeHead(200, { 'content-type': 'application/json', 'x-seen': body }).end('{"ok":true}');
      else if (req.url === '/big')
        res.writeHead(200, { 'content-type': 'application/json' }).end('x'.repeat(5000));
      else if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        held.push(res);
      } else held.push(res); // never answers
    });
  });
  let base = '';
  let pool: HttpPool;
  const at = (path: string) => httpPool(new URL(`${base}${path}`));
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pool = at('/json');
  });
  after(async () => {
    for (const r of held) r.destroy();
    await pool.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const waitClosed = (path: string) => waitFor(() => closed.includes(path), `${path} cut upstream`);

  it('gathers a JSON answer whole, with its status and headers, and sends the body as given', async () => {
    const a = await pool.request({
      method: 'POST',
      headers: {},
      body: '{"q":1}',
      maxBytes: 100,
      streamed: isStream,
    });
    assert.equal(a.kind, 'whole');
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-seen'], '{"q":1}');
    assert.equal(String(a.body), '{"ok":true}');
  });

  it('answers too-large past the bound and cuts the request', async () => {
    const big = at('/big');
    const a = await big.request({ method: 'GET', headers: {}, maxBytes: 100, streamed: isStream });
    assert.equal(a.kind === 'whole' && a.body, 'too-large');
    await big.close();
  });

  it('reads an event stream as it comes; destroying it cuts the request upstream', async () => {
    const streams = at('/stream');
    const a = await streams.request({ method: 'GET', headers: {}, maxBytes: 100, streamed: isStream });
    assert.equal(a.kind, 'stream');
    if (a.kind !== 'stream') return;
    const first = await new Promise<string>((r) => a.body.once('data', (c: Buffer) => r(String(c))));
    assert.equal(first, 'data: 1\n\n');
    a.body.destroy();
    await waitClosed('/stream');
    await streams.close();
  });

  it('a request not answered yet is cut through its in-flight set (its session ended) and rejects', async () => {
    const silent = at('/silent');
    const inFlight = new Set<{ destroy(): void }>();
    const p = silent.request({
      method: 'POST',
      headers: {},
      body: '{}',
      maxBytes: 100,
      streamed: isStream,
      inFlight,
    });
    await waitFor(() => held.length === 2, 'the request reached the server');
    assert.equal(inFlight.size, 1);
    for (const r of inFlight) r.destroy();
    await assert.rejects(p, /cancelled/);
    assert.equal(inFlight.size, 0);
    await waitClosed('/silent');
    await silent.close();
  });

  it('rejects when upstream cannot be reached', async () => {
    const gone = httpPool(new URL('http://127.0.0.1:1/mcp'));
    await assert.rejects(
      gone.request({ method: 'POST', headers: {}, body: '{}', maxBytes: 10, streamed: isStream }),
    );
    await gone.close();
  });
});
