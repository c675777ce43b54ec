// Rules engine cost: per-call cost early and late in one long session (must not grow with session
// length), and tool-call evaluations per second with the whole shipped pack on one core. With
// BENCH_RULES_BASELINE=<another checkout's dist/> (e.g. the previous pack, commit c5e29d9, built in a
// worktree), that build runs beside this one in the same process, in turn, and both are printed.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SessionState } from '../src/index.js';
import { SHAPES, shaped } from '../test/adversarial/shapes.js';
import { fmt, internal, printTable } from './lib.js';
import { shapeMessages } from './shape-messages.js';

// Measure the code that runs in production: the compiled dist/ (built by `npm ci`), else the sources.
type Lib = typeof import('../src/index.js');
const built = existsSync(new URL('../dist/index.js', import.meta.url));
const lib: Lib = built
  ? ((await import(new URL('../dist/index.js', import.meta.url).href)) as Lib)
  : await import('../src/index.js');
const { parseIntent, packPolicies, loadRulePack, combinePolicies } = lib;
const { advance, initialState } = await internal<typeof import('../src/monitor/state.js')>('monitor/state');
const { classifyMessage } = await internal<typeof import('../src/events/validate.js')>('events/validate');
const baselineDir = process.env.BENCH_RULES_BASELINE;
const baseline: Lib | undefined = baselineDir
  ? ((await import(pathToFileURL(resolve(baselineDir, 'index.js')).href)) as Lib)
  : undefined;

const intent = parseIntent({
  purpose: 'Summarise the notes and email them to team@corp.example.com',
  tools: ['read_notes', 'send_email'],
});

interface CallCost {
  readonly early: number;
  readonly late: number;
  readonly perSec: number;
}

/** One session at a time fed through `l`'s shipped pack: `fresh()` starts one, `feed()` evaluates a message; `next()` numbers requests. */
function feeder(l: Lib) {
  const { advance, classifyMessage, initialState, parseIntent, packPolicies, loadRulePack, combinePolicies } =
    l;
  const intent = parseIntent({
    purpose: 'Summarise the notes and email them to team@corp.example.com',
    tools: ['read_notes', 'send_email'],
  });
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
  return { fresh, feed, next: () => id++ };
}

/** Per-call cost early and late in one session, and call evaluations per second, with `l`'s shipped pack. */
function callCost(l: Lib, totalCalls: number): CallCost {
  const { fresh, feed, next } = feeder(l);
  const callCost: number[] = [];
  // Warm the JIT on a throw-away session, then measure a fresh one from its first call.
  for (const phase of ['warm-up', 'measured'] as const) {
    fresh();
    callCost.length = 0;
    for (let i = 0; i < (phase === 'warm-up' ? 3000 : totalCalls); i++) {
      const rid = next();
      const tool = i % 2 === 0 ? 'read_notes' : 'send_email';
      const args =
        tool === 'read_notes'
          ? { path: `notes-${i % 7}.md` }
          : {
              to: 'team@corp.example.com',
              body: `Summary ${i}: shipped the beta, two bugs open, retro on Friday.`,
            };
      const t0 = process.hrtime.bigint();
      void feed(
        { jsonrpc: '2.0', id: rid, method: 'tools/call', params: { name: tool, arguments: args } },
        'c2s',
      );
      callCost.push(Number(process.hrtime.bigint() - t0));
      void feed(
        {
          jsonrpc: '2.0',
          id: rid,
          result: {
            content: [
              {
                type: 'text',
                text: `Notes ${i}: shipped the beta on Friday; contact ops@corp.example.com; ticket ${i}`,
              },
            ],
          },
        },
        's2c',
      );
    }
  }
  // Median of the 11 calls around each point, so one GC pause does not decide the figure.
  const around = (k: number) => {
    const xs = callCost.slice(Math.max(0, k - 5), k + 6).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)]! / 1000;
  };
  const early = around(10),
    late = around(totalCalls - 6);
  // Throughput: tool-call evaluations per second on one core (the call event only, results interleaved as above).
  const loops = 50_000;
  let spent = 0;
  for (let i = 0; i < loops; i++) {
    const rid = next();
    const raw =
      i % 2 === 0
        ? {
            jsonrpc: '2.0',
            id: rid,
            method: 'tools/call',
            params: { name: 'read_notes', arguments: { path: `notes-${i % 7}.md` } },
          }
        : {
            jsonrpc: '2.0',
            id: rid,
            method: 'tools/call',
            params: {
              name: 'send_email',
              arguments: { to: 'team@corp.example.com', body: `Summary ${i}: shipped the beta.` },
            },
          };
    const t0 = process.hrtime.bigint();
    void feed(raw, 'c2s');
    spent += Number(process.hrtime.bigint() - t0);
    void feed(
      {
        jsonrpc: '2.0',
        id: rid,
        result: { content: [{ type: 'text', text: `Notes ${i}: shipped the beta on Friday; ticket ${i}` }] },
      },
      's2c',
    );
  }
  const perSec = loops / (spent / 1e9);
  return { early, late, perSec };
}

export function benchRules(totalCalls = Number(process.env.BENCH_RULE_CALLS ?? 10_000)): void {
  // In turn, twice each, so the machine's drift falls on both builds alike; the best run of each is kept.
  const runs: { cur: CallCost[]; base: CallCost[] } = { cur: [], base: [] };
  for (let r = 0; r < 2; r++) {
    runs.cur.push(callCost(lib, totalCalls));
    if (baseline) runs.base.push(callCost(baseline, totalCalls));
  }
  const best = (xs: CallCost[]): CallCost => ({
    early: Math.min(...xs.map((x) => x.early)),
    late: Math.min(...xs.map((x) => x.late)),
    perSec: Math.max(...xs.map((x) => x.perSec)),
  });
  const { early, late, perSec } = best(runs.cur);
  const base = baseline ? best(runs.base) : undefined;
  const { fresh, feed, next } = feeder(lib);
  // Large answers: analysis must stay linear in the text (a quadratic step shows as the per-byte cost
  // of a 4x larger answer growing 4x). Dense with addresses (the worst case for target extraction).
  const dense = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => `user${i}@host${i}.example.com see https://h${i}.example.com/p `,
    ).join('');
  const resultCost = (text: string) => {
    fresh();
    const rid = next();
    void feed(
      {
        jsonrpc: '2.0',
        id: rid,
        method: 'tools/call',
        params: { name: 'read_notes', arguments: { path: 'big.md' } },
      },
      'c2s',
    );
    const t0 = process.hrtime.bigint();
    void feed({ jsonrpc: '2.0', id: rid, result: { content: [{ type: 'text', text }] } }, 's2c');
    return Number(process.hrtime.bigint() - t0) / text.length; // ns per character
  };
  resultCost(dense(2_000));
  // Under the per-message analysis budget (1 MiB of text; a larger answer is withheld unanalysed).
  const small = dense(3_750),
    large = dense(15_000);
  const perByteSmall = resultCost(small),
    perByteLarge = resultCost(large);
  const mem = process.memoryUsage().heapUsed / 1024 / 1024;
  printTable(
    `rules engine (${built ? 'compiled dist/' : 'sources via tsx'}): shipped pack (${loadRulePack().rules.length} rules), one session of ${totalCalls} calls, best of 2 runs (targets: late/early <= 1.5x, >= 100,000 evaluations/s)`,
    [
      { measure: 'per-call cost at call 10 (median of calls 5-15, us)', value: fmt(early, 2) },
      { measure: `per-call cost at call ${totalCalls} (median of the last 11, us)`, value: fmt(late, 2) },
      { measure: 'late / early', value: `${(late / early).toFixed(2)}x` },
      { measure: 'tool-call evaluations per second, one core', value: fmt(perSec, 0) },
      { measure: 'mean per-call cost over those 50,000 late calls (us)', value: fmt(1e6 / perSec, 2) },
      ...(base
        ? [
            {
              measure: `baseline ${baselineDir}: per-call cost at call 10 / at call ${totalCalls} (us)`,
              value: `${fmt(base.early, 2)} / ${fmt(base.late, 2)}`,
            },
            {
              measure: 'baseline: tool-call evaluations per second, one core; mean per-call cost (us)',
              value: `${fmt(base.perSec, 0)}; ${fmt(1e6 / base.perSec, 2)}`,
            },
            {
              // The mean over the 50,000 late calls of the throughput run is the cost figure; the median
              // of 11 single calls at call N swings 0.8x-2.8x on a loaded machine.
              measure:
                'this build / baseline: mean per-call cost over 50,000 late calls (target <= 1.2x); median of the last 11; evaluations per second',
              value: `${(base.perSec / perSec).toFixed(2)}x; ${(late / base.late).toFixed(2)}x; ${(perSec / base.perSec).toFixed(2)}x`,
            },
          ]
        : []),
      {
        measure: `answer analysis, address-dense text: ns per character at ${fmt(small.length / 1e6, 2)} MB / at ${fmt(large.length / 1e6, 2)} MB`,
        value: `${fmt(perByteSmall, 0)} / ${fmt(perByteLarge, 0)} (${(perByteLarge / perByteSmall).toFixed(2)}x: linear is 1x)`,
      },
      { measure: 'heap used after the run (MiB)', value: fmt(mem, 1) },
    ],
  );
}

/**
 * Issue 11 §1: ns per character of the pack's whole analysis of one message, for each pathological
 * shape (test/adversarial/shapes.ts) at 64 KB and 1 MB: as a tool result (targets, labels, injection,
 * provenance indexing) and as a call argument (targets, labels, decoding, provenance lookup). Growth
 * 64 KB -> 1 MB should be ~1x (quadratic is 16x); each shape is compared with plain prose.
 */
export function benchShapes(sizes: readonly [number, number] = [64_000, 1_000_000]): void {
  const policy = combinePolicies(packPolicies(loadRulePack()));
  let n = 0;
  const run = (raws: unknown[]): number => {
    let session = initialState({ id: `shape${n++}`, key: 'k', intent, startedAt: 0 });
    const state = policy.createState!(session);
    let spent = 0;
    raws.forEach((raw, i) => {
      const step = advance(session, {
        dir: i % 2 === 0 ? 'c2s' : 's2c',
        raw,
        bytes: 100,
        time: 1000 * (i + 1),
        message: classifyMessage(raw),
      });
      session = step.state;
      const t0 = cpuNs();
      void policy.evaluate({ event: step.event, session, state });
      if (i === raws.length - 1) spent = cpuNs() - t0;
    });
    return spent;
  };
  const asResult = (text: string) => run(shapeMessages(text, 'result')) / text.length;
  const asArgument = (text: string) => run(shapeMessages(text, 'argument')) / text.length;
  // BENCH_SHAPES=www.,http: measures only those shapes (beside prose), to check one fix quickly.
  const only = process.env.BENCH_SHAPES?.split(',');
  const units: [string, string][] = [
    ['prose (baseline)', PROSE],
    ...Object.entries(SHAPES).filter(([name]) => !only || only.includes(name)),
  ];
  const rows: Record<string, string>[] = [];
  let prose = { result: 1, call: 1 };
  for (const [name, unit] of units) {
    asResult(shaped(unit, sizes[0], 'w')); // warm
    // Best of 3 at each size, sizes interleaved, in this process's CPU time (other processes on the
    // cores do not count): a slow spell of the machine falls on both sizes alike.
    const r = [Infinity, Infinity],
      c = [Infinity, Infinity];
    for (let j = 0; j < 3; j++)
      sizes.forEach((size, k) => {
        r[k] = Math.min(r[k]!, asResult(shaped(unit, size, `r${j}`)));
        c[k] = Math.min(c[k]!, asArgument(shaped(unit, size, `c${j}`)));
      });
    if (name === 'prose (baseline)') prose = { result: r[1]!, call: c[1]! };
    rows.push({
      shape: name,
      [`result ns/char ${sizes[0] / 1000} KB / 1 MB`]: `${fmt(r[0]!, 0)} / ${fmt(r[1]!, 0)}`,
      growth: `${(r[1]! / r[0]!).toFixed(2)}x`,
      'vs prose': `${(r[1]! / prose.result).toFixed(2)}x`,
      [`argument ns/char ${sizes[0] / 1000} KB / 1 MB`]: `${fmt(c[0]!, 0)} / ${fmt(c[1]!, 0)}`,
      'growth ': `${(c[1]! / c[0]!).toFixed(2)}x`,
      'vs prose ': `${(c[1]! / prose.call).toFixed(2)}x`,
    });
  }
  printTable(
    `pathological shapes (${built ? 'compiled dist/' : 'sources via tsx'}): whole-pack analysis of one message, CPU ns per character, best of 3 (targets: growth <= 1.2x, <= 3x prose)`,
    rows,
  );
}

/** This process's CPU time in ns (user + system). */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

// Plain prose with the usual sprinkling of numbers, names and punctuation.
const PROSE =
  'The quarterly review is on Friday. Revenue grew 4% over the last quarter, and the team shipped the beta to 120 customers; ' +
  'two bugs are still open (see ticket 4471). Please read the attached notes before the meeting, and bring questions about the roadmap. ';

if (import.meta.url === `file://${process.argv[1]}`) {
  benchRules();
  benchShapes();
}
