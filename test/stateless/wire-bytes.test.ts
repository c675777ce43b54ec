// The stateless (2026-07-28) path of `intentguard http` carries the bytes it decided: a request that
// passes unchanged goes upstream as the client wrote it, and upstream's answer reaches the client as
// upstream wrote it (no second serialization on either side), while the monitor reads those very bytes
// — so a key given twice, which JSON.parse would silently fold, is seen and refused.
// A raw upstream on a real socket records exactly what it was sent.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRuntime } from '../../src/app/runtime.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { META } from '../../src/era/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-stateless-wire-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'intent.yaml'), 'purpose: echo things\ntools: [echo]\n');

/** Upstream's answer, formatted as no JSON.stringify would write it. */
const answerText = (id: unknown) =>
  `{ "result" : { "content" : [ { "type" : "text", "text" : "h\\u0069" } ] },\n  "id" : ${JSON.stringify(id)}, "jsonrpc" : "2.0" }`;

async function stack() {
  const sent: { text: string; headers: IncomingHttpHeaders }[] = [];
  const upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      sent.push({ text, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answerText((JSON.parse(text) as { id: unknown }).id));
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
  });
  const proxy = await startHttpProxy({
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`,
    runtime,
  });
  return {
    url: proxy.url,
    sent,
    runtime,
    async close() {
      await proxy.close();
      await runtime.close();
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    },
  };
}

const post = (url: string, body: string) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    },
    body,
  });

const meta = JSON.stringify({ [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} });

describe('stateless HTTP: the bytes decided are the bytes carried', () => {
  it('a request that passes goes upstream byte for byte, and upstream answer comes back byte for byte', async () => {
    const s = await stack();
    try {
      // Spacing, key order and an escape JSON.stringify would not write.
      const body = `{ "method" : "tools/call", "params" : { "arguments" : { "text" : "h\\u0069" }, "name" : "echo", "_meta" : ${meta} }, "id" : "w1", "jsonrpc" : "2.0" }`;
      const res = await post(s.url, body);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(s.sent.length, 1);
      assert.equal(s.sent[0]!.text, body);
      assert.equal(s.sent[0]!.headers['content-length'], String(Buffer.byteLength(body)));
      assert.equal(s.sent[0]!.headers['mcp-method'], 'tools/call');
      assert.equal(s.sent[0]!.headers.authorization, undefined);
      assert.equal(text, answerText('w1'));
    } finally {
      await s.close();
    }
  });

  it('a request giving a key twice is refused (ERR_JSON_AMBIGUOUS) and never reaches upstream', async () => {
    const s = await stack();
    try {
      // JSON.parse keeps the last "name"; a parser keeping the first would run another tool.
      const body = `{"jsonrpc":"2.0","id":"w2","method":"tools/call","params":{"name":"other","name":"echo","arguments":{"text":"hi"},"_meta":${meta}}}`;
      const res = await post(s.url, body);
      const answer = (await res.json()) as { error?: { data?: { code?: string } } };
      assert.equal(answer.error?.data?.code, 'ERR_JSON_AMBIGUOUS', JSON.stringify(answer));
      assert.equal(s.sent.length, 0);
    } finally {
      await s.close();
    }
  });
});
