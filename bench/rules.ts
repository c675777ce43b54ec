// Rules engine cost: per-call cost early and late in one long session (must not grow with session
// length), and tool-call evaluations per second with the whole shipped pack on one core.
import { existsSync } from 'node:fs';
import type { SessionState } from '../src/index.js';
import { fmt, printTable } from './lib.js';

// Measure the code that runs in production: the compiled dist/ (built by `npm ci`), else the sources.
type Lib = typeof import('../src/index.js');
const lib: Lib = existsSync(new URL('../dist/index.js', import.meta.url)) ? await import(new URL('../dist/index.js', import.meta.url).href) as Lib : await import('../src/index.js');
const { advance, classifyMessage, initialState, parseIntent, packPolicies, loadRulePack, combinePolicies } = lib;
const built = lib !== undefined && existsSync(new URL('../dist/index.js', import.meta.url));

const intent = parseIntent({ purpose: 'Summarise the notes and email them to team@corp.example.com', tools: ['read_notes', 'send_email'] });

export function benchRules(totalCalls = Number(process.env.BENCH_RULE_CALLS ?? 10_000)): void {
  const policy = combinePolicies(packPolicies(loadRulePack()));
  let session: SessionState;
  let state: unknown[];
  let t = 0;
  let id = 0;
  const fresh = () => {
    session = initialState({ id: `s${id}`, key: 'k', intent, startedAt: t });
    state = policy.createState!(session);
  };
  const feed = (raw: unknown, dir: 'c2s' | 's2c') => {
    const step = advance(session, { dir, raw, bytes: 100, time: (t += 1000), message: classifyMessage(raw) });
    session = step.state;
    return policy.evaluate({ event: step.event, session, state });
  };
  const callCost: number[] = [];
  // Warm the JIT on a throw-away session, then measure a fresh one from its first call.
  for (const phase of ['warm-up', 'measured'] as const) {
  fresh();
  callCost.length = 0;
  for (let i = 0; i < (phase === 'warm-up' ? 3000 : totalCalls); i++) {
    const rid = id++;
    const tool = i % 2 === 0 ? 'read_notes' : 'send_email';
    const args = tool === 'read_notes' ? { path: `notes-${i % 7}.md` } : { to: 'team@corp.example.com', body: `Summary ${i}: shipped the beta, two bugs open, retro on Friday.` };
    const t0 = process.hrtime.bigint();
    feed({ jsonrpc: '2.0', id: rid, method: 'tools/call', params: { name: tool, arguments: args } }, 'c2s');
    callCost.push(Number(process.hrtime.bigint() - t0));
    feed({ jsonrpc: '2.0', id: rid, result: { content: [{ type: 'text', text: `Notes ${i}: shipped the beta on Friday; contact ops@corp.example.com; ticket ${i}` }] } }, 's2c');
  }
  }
  // Median of the 11 calls around each point, so one GC pause does not decide the figure.
  const around = (k: number) => {
    const xs = callCost.slice(Math.max(0, k - 5), k + 6).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)]! / 1000;
  };
  const early = around(10), late = around(totalCalls - 6);
  // Throughput: tool-call evaluations per second on one core (the call event only, results interleaved as above).
  const loops = 50_000;
  let spent = 0;
  for (let i = 0; i < loops; i++) {
    const rid = id++;
    const raw = i % 2 === 0
      ? { jsonrpc: '2.0', id: rid, method: 'tools/call', params: { name: 'read_notes', arguments: { path: `notes-${i % 7}.md` } } }
      : { jsonrpc: '2.0', id: rid, method: 'tools/call', params: { name: 'send_email', arguments: { to: 'team@corp.example.com', body: `Summary ${i}: shipped the beta.` } } };
    const t0 = process.hrtime.bigint();
    feed(raw, 'c2s');
    spent += Number(process.hrtime.bigint() - t0);
    feed({ jsonrpc: '2.0', id: rid, result: { content: [{ type: 'text', text: `Notes ${i}: shipped the beta on Friday; ticket ${i}` }] } }, 's2c');
  }
  const perSec = loops / (spent / 1e9);
  // Large answers: analysis must stay linear in the text (a quadratic step shows as the per-byte cost
  // of a 4x larger answer growing 4x). Dense with addresses (the worst case for target extraction).
  const dense = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@host${i}.example.com see https://h${i}.example.com/p `).join('');
  const resultCost = (text: string) => {
    fresh();
    const rid = id++;
    feed({ jsonrpc: '2.0', id: rid, method: 'tools/call', params: { name: 'read_notes', arguments: { path: 'big.md' } } }, 'c2s');
    const t0 = process.hrtime.bigint();
    feed({ jsonrpc: '2.0', id: rid, result: { content: [{ type: 'text', text }] } }, 's2c');
    return Number(process.hrtime.bigint() - t0) / text.length; // ns per character
  };
  resultCost(dense(2_000));
  const small = dense(5_000), large = dense(20_000);
  const perByteSmall = resultCost(small), perByteLarge = resultCost(large);
  const mem = process.memoryUsage().heapUsed / 1024 / 1024;
  printTable(`rules engine (${built ? 'compiled dist/' : 'sources via tsx'}): shipped pack (${loadRulePack().rules.length} rules), one session of ${totalCalls} calls (targets: late/early <= 1.5x, >= 100,000 evaluations/s)`, [
    { measure: 'per-call cost at call 10 (median of calls 5-15, us)', value: fmt(early, 2) },
    { measure: `per-call cost at call ${totalCalls} (median of the last 11, us)`, value: fmt(late, 2) },
    { measure: 'late / early', value: `${(late / early).toFixed(2)}x` },
    { measure: 'tool-call evaluations per second, one core', value: fmt(perSec, 0) },
    { measure: `answer analysis, address-dense text: ns per character at ${fmt(small.length / 1e6, 2)} MB / at ${fmt(large.length / 1e6, 2)} MB`, value: `${fmt(perByteSmall, 0)} / ${fmt(perByteLarge, 0)} (${(perByteLarge / perByteSmall).toFixed(2)}x: linear is 1x)` },
    { measure: 'heap used after the run (MiB)', value: fmt(mem, 1) },
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) benchRules();
