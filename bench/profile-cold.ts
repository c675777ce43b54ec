// Profiling helper (not a benchmark): what the monitor's decisions cost per call when the caches are
// cold, as they are in a proxy, against a hot loop. A runtime as `intentguard http` builds it (no
// recording), one 2026-07-28 session, and the proxy bench's trivial call and result observed through
// the session handle (parse, classify, policies, the per-session reducer, the streams). Between
// messages the loop can touch `THRASH_KB` KiB of other memory, standing in for what a proxy runs
// between two messages (HTTP parsing, the SDKs, GC), so each message finds the decision code and data
// as far out of the caches as that. Usage: node --import tsx bench/profile-cold.ts [calls]
//   THRASH_KB=<KiB> (default 0: a hot loop) · PACK=0 (intent policy only) · ERA=2025 (the stdio bench's messages)
//   · ALLOC=1 (bytes allocated per call, by function) — prints µs per call (both
//   messages) in windows of 4,000 calls.
import { Session } from 'node:inspector/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { internal, proxyBenchDir } from './lib.js';

const { createRuntime } = await internal<typeof import('../src/app/runtime.js')>('app/runtime');
const calls = Number(process.argv[2] ?? 20_000);
const thrashKb = Number(process.env.THRASH_KB ?? 0);
// As in the proxy benches: the trivial tool's intent; the rate rules off (thousands of calls a second).
const { dir, site } = proxyBenchDir('ig-profile-cold-');
const runtime = await createRuntime({
  mode: 'enforce',
  db: false,
  pack: process.env.PACK !== '0',
  rules: [site],
  intentFile: join(dir, 'intent.yaml'),
  log: () => undefined,
});
// ERA=2025: the stdio bench's messages instead (MCP 2025-11-25, after an initialize handshake).
const old = process.env.ERA === '2025';
const session = runtime.monitor.open({
  intent: runtime.defaultIntent!,
  transport: old ? 'stdio' : 'http-stateless',
});
session.attach({ deliver: () => undefined, close: () => undefined });
if (old)
  for (const [dir, text] of [
    [
      'c2s',
      '{"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}},"jsonrpc":"2.0","id":0}',
    ],
    [
      's2c',
      '{"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"bench","version":"1"}},"jsonrpc":"2.0","id":0}',
    ],
    ['c2s', '{"method":"notifications/initialized","jsonrpc":"2.0"}'],
  ] as const) {
    const o = await session.observe(dir, JSON.parse(text), Buffer.byteLength(text), text);
    if (o.forward === undefined) throw new Error(`handshake: ${dir} not forwarded`);
  }

const junk = new Uint8Array(thrashKb << 10);
let sink = 0;
/** One write per cache line of `junk`: that much of the caches taken by something else. */
const thrash = () => {
  // Kept a small integer (a sum that outgrows one is a heap number: an allocation per cache line, and GC).
  for (let j = 0; j < junk.length; j += 64) sink = (sink + junk[j]!++) & 0xffff;
};
// The messages of the stateless bench (an SDK v2 client and server, 2026-07-28), as their wire text.
const request = (id: number) =>
  old
    ? `{"method":"tools/call","params":{"name":"noop","arguments":{}},"jsonrpc":"2.0","id":${id}}`
    : `{"method":"tools/call","params":{"name":"noop","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"bench","version":"2"},"io.modelcontextprotocol/clientCapabilities":{}}},"jsonrpc":"2.0","id":${id}}`;
// RESULT_KB=<KiB>: a result of that much text (a document read, a page fetched) instead of an empty one.
const body = JSON.stringify(
  'The quarterly report lists revenue by region, the open issues of each team and the plan for the next release. '
    .repeat(Math.ceil((Number(process.env.RESULT_KB ?? 0) * 1024) / 110))
    .slice(0, Number(process.env.RESULT_KB ?? 0) * 1024),
);
// Each result its own text (numbered), as results are: nothing of one is remembered for the next.
const content = (id: number) =>
  process.env.RESULT_KB ? `[{"type":"text","text":"${id} ${body.slice(1)}}]` : '[]';
const result = (id: number) =>
  old
    ? `{"result":{"content":${content(id)}},"jsonrpc":"2.0","id":${id}}`
    : `{"result":{"content":${content(id)},"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"bench-v2","version":"1"}}},"jsonrpc":"2.0","id":${id}}`;

const WINDOW = 4000;
let spent = 0n;
// SPLIT=1: the two directions apart (the call, and its result), each until it may be delivered
// (observe returned), without the analysis left for after delivery.
const byDir = { c2s: 0n, s2c: 0n };
// ALLOC=1: V8's sampling heap profiler over every call after the first window (collected objects kept),
// then bytes allocated per call by the innermost function of intentguard's own code that allocated them.
const alloc = process.env.ALLOC ? new Session() : undefined;
try {
  for (let i = 0; i < calls; i++) {
    if (alloc && i === WINDOW) {
      alloc.connect();
      // The two include flags are newer than @types/node's copy of the protocol.
      const sampling = {
        samplingInterval: 256,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      };
      await alloc.post('HeapProfiler.startSampling', sampling);
    }
    for (const [dir, text] of [
      ['c2s', request(i)],
      ['s2c', result(i)],
    ] as const) {
      if (thrashKb > 0) thrash();
      const t0 = process.hrtime.bigint();
      const decided = session.observe(dir, JSON.parse(text), Buffer.byteLength(text), text);
      // Until the message may be delivered (observe returned), then with what runs after it (the next
      // turn of the event loop: an answer's analysis after delivery).
      const took = process.hrtime.bigint() - t0;
      const outcome = await decided;
      await new Promise((r) => setImmediate(r));
      spent += process.hrtime.bigint() - t0;
      byDir[dir] += took;
      if (outcome.forward === undefined) throw new Error(`call ${i}: ${dir} not forwarded`);
    }
    if ((i + 1) % WINDOW === 0) {
      console.log(
        `${process.env.PACK === '0' ? 'intent policy' : 'rule pack'}, ${thrashKb} KiB touched between messages: ${(Number(spent) / WINDOW / 1000).toFixed(2)} us per call (calls ${i + 2 - WINDOW}-${i + 1})${process.env.SPLIT ? `: until delivery, call ${(Number(byDir.c2s) / WINDOW / 1000).toFixed(2)}, result ${(Number(byDir.s2c) / WINDOW / 1000).toFixed(2)}` : ''}`,
      );
      spent = 0n;
      byDir.c2s = byDir.s2c = 0n;
    }
  }
  if (alloc) await printAllocations(alloc, calls - WINDOW);
} finally {
  await runtime.close();
  rmSync(dir, { recursive: true, force: true });
}
if (sink === -1) console.log(sink);

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

async function printAllocations(session: Session, n: number): Promise<void> {
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } };
  const by = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, owner: string) => {
    const f = node.callFrame;
    const here = /\/(dist|src)\//.test(f.url)
      ? `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(dist|src)\//, '$1/')}:${f.lineNumber + 1}`
      : owner;
    total += node.selfSize;
    by.set(here, (by.get(here) ?? 0) + node.selfSize);
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, '(the loop, node, V8)');
  console.log(`allocated ${(total / n).toFixed(0)} B per call; by function:`);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`${(v / n).toFixed(0).padStart(8)} B  ${k}`);
}
