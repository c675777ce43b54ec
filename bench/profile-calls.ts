// Profiling helper (not a benchmark): the per-call path of `bench/rules.ts` (tools/call + result pairs
// in one session) under `node --cpu-prof`. Usage: node --cpu-prof --import tsx bench/profile-calls.ts [calls]
// SHAPE=noop: the proxy bench's trivial call instead (a tool `noop`, no arguments, an empty result).
import type * as Lib from '../src/index.js';
import { proxyBenchDir } from './lib.js';

const { advance, classifyMessage, combinePolicies, initialState, loadRulePack, packPolicies, parseIntent } =
  (await import(process.env.DIST ?? '../dist/index.js')) as typeof Lib;

const calls = Number(process.argv[2] ?? 100_000);
const noop = process.env.SHAPE === 'noop';
// As bench/lib.ts's proxy benchmark intent for the noop shape.
const intent = parseIntent(
  noop
    ? { purpose: 'benchmark', tools: ['noop'] }
    : {
        purpose: 'Summarise the notes and email them to team@corp.example.com',
        tools: ['read_notes', 'send_email'],
      },
);
// The noop shape runs the pack as the proxy bench does: its two rate rules off (bench/lib.ts).
const policy = combinePolicies(
  packPolicies(loadRulePack(noop ? [proxyBenchDir('ig-profile-calls-').site] : [])),
);
let session = initialState({ id: 's', key: 'k', intent, startedAt: 0 });
const state = policy.createState!(session);
let t = 0;
const feed = (raw: unknown, dir: 'c2s' | 's2c') => {
  const step = advance(session, { dir, raw, bytes: 100, time: (t += 1000), message: classifyMessage(raw) });
  session = step.state;
  return policy.evaluate({ event: step.event, session, state });
};
let spent = 0n;
let both = 0n;
for (let i = 0; i < calls; i++) {
  const args =
    i % 2 === 0
      ? { path: `notes-${i % 7}.md` }
      : { to: 'team@corp.example.com', body: `Summary ${i}: shipped the beta.` };
  const t0 = process.hrtime.bigint();
  void feed(
    {
      jsonrpc: '2.0',
      id: i,
      method: 'tools/call',
      params: noop
        ? { name: 'noop', arguments: {} }
        : { name: i % 2 === 0 ? 'read_notes' : 'send_email', arguments: args },
    },
    'c2s',
  );
  spent += process.hrtime.bigint() - t0;
  void feed(
    {
      jsonrpc: '2.0',
      id: i,
      result: noop
        ? { content: [] }
        : { content: [{ type: 'text', text: `Notes ${i}: shipped the beta on Friday; ticket ${i}` }] },
    },
    's2c',
  );
  both += process.hrtime.bigint() - t0;
}
console.log(
  `${(Number(spent) / calls / 1000).toFixed(2)} us per call, ${(calls / (Number(spent) / 1e9)).toFixed(0)} calls/s; with its result ${(Number(both) / calls / 1000).toFixed(2)} us`,
);
const T = (globalThis as { __T?: Record<string, number> }).__T;
if (T)
  console.log(
    Object.entries(T)
      .map(([k, v]) => `${k} ${k === 'n' ? v : (v / T.n! / 1000).toFixed(2)}`)
      .join('  '),
  );
