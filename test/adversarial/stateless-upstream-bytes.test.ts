// Issue 11 §1/§2 on the stateless (2026-07-28) path of `intentguard http`: what the monitor reads of an
// upstream answer is what a client reads of it, and an upstream answer is bounded like every other body.
// - "Upstream SSE line endings": an event stream whose lines end in a lone CR (or CRLF) is one the
//   EventSource standard and the SDK client read; a reader splitting on LF only saw no event at all (the
//   client got nothing) or, worse, a different event than the client.
// - "Upstream body bound": `up.text()` read an upstream JSON answer of any size into memory; an answer
//   over the bound is not read and is withheld with ERR_MESSAGE_TOO_LARGE, as on the other HTTP paths.
// - "The bytes decided are the bytes carried": a request that passes unchanged goes upstream as the
//   client wrote it and upstream's answer reaches the client as upstream wrote it (no second
//   serialization either way), while the monitor reads those very bytes, so a key given twice (which
//   JSON.parse folds silently) is seen and refused.
// The upstream is a hostile server on a real socket that writes exactly the bytes given.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRuntime } from '../../src/app/runtime.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { META } from '../../src/era/keys.js';
import { raw } from './raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-stateless-bytes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'intent.yaml'), 'purpose: echo things\ntools: [echo]\n');

type Answer = (res: ServerResponse, id: unknown) => void;

/** A 2026-07-28 upstream that answers every POST with `answer` (raw bytes), behind `intentguard http`. */
async function stack(answer: Answer, maxMessageBytes?: number) {
  let bytesSent = 0;
  /** What upstream was sent: each POST's body as it came, and its headers. */
  const received: { text: string; headers: IncomingHttpHeaders }[] = [];
  const upstream = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ text: body, headers: req.headers });
      const write = res.write.bind(res);
      res.write = ((chunk: string | Buffer, ...rest: never[]) => {
        bytesSent += Buffer.byteLength(chunk);
        return write(chunk, ...rest);
      }) as typeof res.write;
      res.on('error', () => undefined);
      answer(res, (JSON.parse(body) as { id: unknown }).id);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const runtime = await createRuntime({
    mode: 'enforce',
    db: join(dir, `${Math.random()}.db`),
    pack: true,
    rules: [],
    intentFile: join(dir, 'intent.yaml'),
    log: () => undefined,
    ...(maxMessageBytes !== undefined && { maxMessageBytes }),
  });
  const proxy = await startHttpProxy({
    upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}/mcp`,
    runtime,
  });
  return {
    url: proxy.url,
    received,
    bytesSent: () => bytesSent,
    async close() {
      await proxy.close();
      await runtime.close();
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    },
  };
}

/** The headers of a stateless tools/call of `echo`. */
const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/call',
  'mcp-name': 'echo',
};

let n = 0;
/** One stateless tools/call of `echo`; the JSON-RPC messages the client reads back (JSON or SSE events, as the EventSource standard splits lines). */
async function call(url: string): Promise<{ status: number; messages: Record<string, unknown>[] }> {
  const id = `c${n++}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} },
        name: 'echo',
        arguments: { text: 'hi' },
      },
    }),
  });
  const text = await res.text();
  if (text.trimStart().startsWith('{')) return { status: res.status, messages: [JSON.parse(text)] };
  const messages = text
    .split(/\r\n|\r|\n/)
    .filter((l) => l.startsWith('data:'))
    .map((l) => JSON.parse(l.slice(5)) as Record<string, unknown>);
  return { status: res.status, messages };
}

const sse = (eol: string) => (res: ServerResponse, id: unknown) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const result = { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'hi' }] } };
  // A comment, then the answer, each line ending in `eol`, written in small pieces (a line end split across writes).
  const bytes = `: keep-alive${eol}${eol}event: message${eol}data: ${JSON.stringify(result)}${eol}${eol}`;
  for (let i = 0; i < bytes.length; i += 7) res.write(bytes.slice(i, i + 7));
  res.end();
};

describe('stateless HTTP: upstream bytes read as a client reads them, and bounded', () => {
  for (const [name, eol] of [
    ['CR only', '\r'],
    ['CRLF', '\r\n'],
    ['LF', '\n'],
  ] as const)
    it(`Upstream SSE line endings: an event stream with ${name} line ends is read event by event`, async () => {
      const s = await stack(sse(eol));
      try {
        const r = await call(s.url);
        assert.equal(r.status, 200);
        assert.equal(r.messages.length, 1, JSON.stringify(r.messages));
        assert.deepEqual(r.messages[0]!.result, { content: [{ type: 'text', text: 'hi' }] });
      } finally {
        await s.close();
      }
    });

  it('Upstream body bound: a JSON answer over the bound is withheld (ERR_MESSAGE_TOO_LARGE), not read to its end', async () => {
    const max = 64 * 1024;
    const total = 8 * 1024 * 1024;
    const s = await stack((res, id) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const text = 'x'.repeat(total);
      // Written as the consumer reads, so what the proxy did not read is never sent.
      const head = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[{"type":"text","text":"`;
      const chunks = [
        head,
        ...Array.from({ length: total / 65536 }, (_, i) => text.slice(i * 65536, (i + 1) * 65536)),
      ];
      const pump = () => {
        while (chunks.length > 0) if (!res.write(chunks.shift()!)) return void res.once('drain', pump);
        res.end('"}]}}');
      };
      pump();
    }, max);
    try {
      const r = await call(s.url);
      const error = r.messages[0]!.error as { data?: { code?: string } } | undefined;
      assert.equal(error?.data?.code, 'ERR_MESSAGE_TOO_LARGE', JSON.stringify(r.messages).slice(0, 300));
      assert.equal(r.messages[0]!.result, undefined);
      assert.ok(s.bytesSent() < total / 2, `the proxy read ${s.bytesSent()} of ${total} bytes`);
    } finally {
      await s.close();
    }
  });

  it('Upstream body bound: one SSE event over the bound ends the stream and the request gets ERR_MESSAGE_TOO_LARGE', async () => {
    const max = 64 * 1024;
    const s = await stack((res, id) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `event: message\ndata: {"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[{"type":"text","text":"`,
      );
      // No line end ever comes: an event that only grows (CR-less, LF-less).
      const chunk = 'y'.repeat(65536);
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        res.once('drain', pump);
      };
      pump();
    }, max);
    try {
      const r = await call(s.url);
      assert.equal(r.messages.length, 1, JSON.stringify(r.messages).slice(0, 300));
      const error = r.messages[0]!.error as { data?: { code?: string } } | undefined;
      assert.equal(error?.data?.code, 'ERR_MESSAGE_TOO_LARGE');
    } finally {
      await s.close();
    }
  });
});

/** Upstream's answer, formatted as no JSON.stringify would write it. */
const oddText = (id: unknown) =>
  `{ "result" : { "content" : [ { "type" : "text", "text" : "h\\u0069" } ] },\n  "id" : ${JSON.stringify(id)}, "jsonrpc" : "2.0" }`;
const oddlyWritten = (res: ServerResponse, id: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(oddText(id));
};

const meta = JSON.stringify({ [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} });

/** A stateless tools/call of `echo` as the client writes it. */
const callBody = (id: string) =>
  `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":${meta}}}`;

describe('stateless HTTP: the bytes decided are the bytes carried', () => {
  it('a request that passes goes upstream byte for byte, and upstream answer comes back byte for byte', async () => {
    const s = await stack(oddlyWritten);
    try {
      // Spacing, key order and an escape JSON.stringify would not write.
      const body = `{ "method" : "tools/call", "params" : { "arguments" : { "text" : "h\\u0069" }, "name" : "echo", "_meta" : ${meta} }, "id" : "w1", "jsonrpc" : "2.0" }`;
      const res = await fetch(s.url, { method: 'POST', headers: HEADERS, body });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(s.received.length, 1);
      assert.equal(s.received[0]!.text, body);
      assert.equal(s.received[0]!.headers['content-length'], String(Buffer.byteLength(body)));
      assert.equal(s.received[0]!.headers['mcp-method'], 'tools/call');
      assert.equal(text, oddText('w1'));
    } finally {
      await s.close();
    }
  });

  it('a JSON answer goes to the client with its Content-Length, never chunked', async () => {
    const s = await stack(oddlyWritten);
    try {
      const r = await raw(s.url, { headers: HEADERS, body: callBody('w3') });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['transfer-encoding'], undefined);
      assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
      assert.equal(r.body, oddText('w3'));
    } finally {
      await s.close();
    }
  });

  it('an upstream event that passes reaches the client as upstream wrote it (one data line); one written over several lines is framed again', async () => {
    // Spacing, key order and an escape JSON.stringify would not write, on one line.
    const oneLine = (id: unknown) => oddText(id).replace('\n', '');
    const s = await stack((res, id) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: ${oneLine(id)}\n\n`);
      res.end();
    });
    const split = await stack((res, id) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // One event's data over two `data:` lines: the client reads it joined by a line feed.
      res.end(
        `event: message\ndata: {"jsonrpc":"2.0",\ndata: "id":${JSON.stringify(id)},"result":{"content":[]}}\n\n`,
      );
    });
    try {
      const r = await raw(s.url, { headers: HEADERS, body: callBody('w4') });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, `event: message\ndata: ${oneLine('w4')}\n\n`);
      const t = await call(split.url);
      assert.equal(t.messages.length, 1, JSON.stringify(t.messages));
      assert.deepEqual(t.messages[0], { jsonrpc: '2.0', id: 'c' + String(n - 1), result: { content: [] } });
    } finally {
      await s.close();
      await split.close();
    }
  });

  it('a request giving a key twice is refused (ERR_JSON_AMBIGUOUS) and never reaches upstream', async () => {
    const s = await stack(oddlyWritten);
    try {
      // JSON.parse keeps the last "name"; a parser keeping the first would run another tool.
      const body = `{"jsonrpc":"2.0","id":"w2","method":"tools/call","params":{"name":"other","name":"echo","arguments":{"text":"hi"},"_meta":${meta}}}`;
      const res = await fetch(s.url, { method: 'POST', headers: HEADERS, body });
      const answer = (await res.json()) as { error?: { data?: { code?: string } } };
      assert.equal(answer.error?.data?.code, 'ERR_JSON_AMBIGUOUS', JSON.stringify(answer));
      assert.equal(s.received.length, 0);
    } finally {
      await s.close();
    }
  });
});
