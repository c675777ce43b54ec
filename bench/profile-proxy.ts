// Profiling helper (not a benchmark): `intentguard stdio` in front of the trivial server under
// `node --cpu-prof`, driven by an SDK client for N calls, then the profile summed by function and by
// file (self time), so where a proxied call's time goes can be read off.
// Usage: node --import tsx bench/profile-proxy.ts [calls] [pack|pack-norec|policy|null]
//   0 calls: start-up only (spawn, the client's initialize, close).
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { TRIVIAL_SERVER, proxyBenchDir } from './lib.js';

const calls = Number(process.argv[2] ?? 20_000);
const variant = process.argv[3] ?? 'pack';
const node = process.execPath;
const { dir, site, stdioArgs } = proxyBenchDir('ig-profile-proxy-');
const profDir = join(dir, 'prof');
const flags =
  variant === 'pack'
    ? ['--rules', site, '--db', join(dir, 'p.db')]
    : variant === 'pack-norec'
      ? ['--rules', site, '--no-record']
      : ['--no-pack', '--no-record'];
// `null`: the byte-copying null relay under the same profiler, for the floor's own cost per call.
const proxied =
  variant === 'null' ? ['bench/fixtures/null-relay.mjs', node, TRIVIAL_SERVER, 'stdio'] : stdioArgs(flags);

const transport = new StdioClientTransport({
  command: node,
  args: ['--cpu-prof', '--cpu-prof-dir', profDir, ...proxied],
  stderr: 'inherit',
});
const client = new Client({ name: 'profile', version: '1' });
await client.connect(transport);
// Warm first (the JIT, the caches), then only the samples taken while the measured calls ran are summed:
// start-up and warm-up would otherwise hide the per-call cost.
const warm = Math.min(2000, calls);
for (let i = 0; i < warm; i++) await client.callTool({ name: 'noop', arguments: {} });
const t0 = process.hrtime.bigint();
for (let i = 0; i < calls; i++) await client.callTool({ name: 'noop', arguments: {} });
const t1 = process.hrtime.bigint();
const ms = Number(t1 - t0) / 1e6;
await client.close();
await new Promise((r) => setTimeout(r, 1500));
if (calls > 0) {
  console.log(`${calls} calls in ${ms.toFixed(0)} ms: ${((calls / ms) * 1000).toFixed(0)} calls/s`);
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
for (const f of readdirSync(profDir)) {
  const p = JSON.parse(readFileSync(join(profDir, f), 'utf8')) as {
    nodes: Node[];
    startTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  // Sample times are on the monotonic clock hrtime reads too (microseconds): keep the measured window.
  const [from, to] = calls > 0 ? [Number(t0 / 1000n), Number(t1 / 1000n)] : [0, Infinity];
  let at = p.startTime;
  p.samples.forEach((id, i) => {
    at += p.timeDeltas[i] ?? 0;
    if (at >= from && at <= to) self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  // Native leaves (a write, a postMessage) by the chain of our functions that called them.
  const chains = new Map<string, number>();
  const name = (n: Node) =>
    `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/');
    const k = name(n);
    fn.set(k, (fn.get(k) ?? 0) + us);
    if (url === '' && n.callFrame.functionName !== '(idle)' && n.callFrame.functionName !== '(program)') {
      const up: string[] = [];
      for (let q = parent.get(id); q !== undefined && up.length < 6; q = parent.get(q)) {
        const c = byId.get(q)!;
        if (/dist|src/.test(c.callFrame.url)) up.push(name(c));
      }
      const ck = `${n.callFrame.functionName} <- ${up.slice(0, 3).join(' <- ')}`;
      chains.set(ck, (chains.get(ck) ?? 0) + us);
    }
    const fk = url || n.callFrame.functionName;
    file.set(fk, (file.get(fk) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(
        ([name, us]) =>
          `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${calls > 0 ? `${(us / calls).toFixed(2).padStart(7)} us/call  ` : ''}${name}`,
      )
      .join('\n');
  console.log(
    `\n${f}: ${(total / 1000).toFixed(0)} ms sampled\n-- by function\n${top(fn, 40)}\n-- by file\n${top(file, 30)}\n-- native, by caller\n${top(chains, 15)}`,
  );
}
// PROF_KEEP=<dir>: the profiles are copied there (for a closer look) before the bench folder goes.
if (process.env.PROF_KEEP) cpSync(profDir, process.env.PROF_KEEP, { recursive: true });
rmSync(dir, { recursive: true, force: true });
