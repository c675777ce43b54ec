// Profiling helper (not a benchmark): where a proxied call's CPU goes, on CPU only. V8's own profiler
// (bench/profile-proxy.ts) samples the wall clock, so time the proxy spends descheduled inside a write
// (the reader it wakes takes its core) shows up as the write; `perf` with a software clock samples only
// while the proxy runs. The warm proxy is attached for the measured calls only (not start-up, not
// warm-up), with V8's JIT symbols (--perf-basic-prof), all its threads. Prints µs of CPU per call: in
// all, in the kernel, and inclusive of each stage (JSON.parse, the decision, the writes, epoll),
// then the JavaScript functions by self time.
// Usage: node --import tsx bench/profile-perf.ts [calls] [null,parse,policy,pack-norec,pack]. Linux, perf.
//   BY_THREAD=1: instead, CPU per call of each thread (the traffic thread, the recording thread, V8's),
//   each thread's top functions by self time (the innermost JavaScript frame, else the native leaf) and
//   by the outermost of intentguard's own frames (which wire handler, which deferred analysis).
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { proxyBenchDir } from './lib.js';

const calls = Number(process.argv[2] ?? 20_000);
const variants = (process.argv[3] ?? 'null,policy').split(',');
const HZ = 10_000;
const byThread = process.env.BY_THREAD === '1';
/** Samples as µs of CPU per call. */
const us = (samples: number) => ((samples / HZ / calls) * 1e6).toFixed(2).padStart(7);
/** One frame of `perf script`: `ip symbol (dso)`. */
const FRAME = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/;
const short = (f: string) =>
  f.replace(/ file:\/\/\S*\/(dist|src|node_modules)\//, ' $1/').replace(/^JS:[*^~]?/, '');

const node = process.execPath;
const { dir, variantArgs: argsOf } = proxyBenchDir('ig-profile-perf-');

/** Stages, by a frame any of their samples' stacks holds. */
const STAGES: [string, RegExp][] = [
  ['JSON.parse', /Builtin_JsonParse/],
  ['relayFrame (parse + decision)', /JS:\S*relayFrame /],
  ['writes (the write syscalls)', /__GI___libc_write|^write$/],
  ['waiting for input (epoll)', /epoll_pwait/],
];

try {
  for (const v of variants) {
    const transport = new StdioClientTransport({
      command: node,
      // V8's log (which the flag turns on) goes to the scratch directory, not the working one.
      args: [
        '--perf-basic-prof',
        `--logfile=${join(dir, 'v8.log')}`,
        '--no-logfile-per-isolate',
        ...argsOf(v),
      ],
      stderr: 'inherit',
    });
    const client = new Client({ name: 'profile', version: '1' });
    await client.connect(transport);
    for (let i = 0; i < 3000; i++) await client.callTool({ name: 'noop', arguments: {} });
    const pid = transport.pid;
    const data = join(dir, `${v}.perf`);
    const perf = spawn(
      'perf',
      ['record', '-q', '-F', String(HZ), '-e', 'cpu-clock', '-g', '-o', data, '-p', String(pid)],
      { stdio: 'inherit' },
    );
    await new Promise((r) => setTimeout(r, 500));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await client.callTool({ name: 'noop', arguments: {} });
    const wall = Number(process.hrtime.bigint() - t0) / 1000 / calls;
    perf.kill('SIGINT');
    await new Promise((r) => perf.on('exit', r));
    await client.close();
    summarize(
      v,
      wall,
      execFileSync('perf', ['script', '-i', data, '-F', byThread ? 'tid,ip,sym,dso' : 'ip,sym,dso'], {
        maxBuffer: 1 << 30,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
    // The JIT's symbols, which V8 wrote for perf (read by `perf script` above).
    rmSync(`/tmp/perf-${pid}.map`, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function summarize(v: string, wall: number, script: string): void {
  if (byThread) return summarizeThreads(v, wall, script);
  let total = 0;
  let kernel = 0;
  const stage = new Map<string, number>();
  const self = new Map<string, number>();
  for (const sample of script.split('\n\n')) {
    // One frame a line, the leaf first: `ip symbol (dso)`.
    const frames = sample
      .split('\n')
      .map((l) => /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    if (frames.length === 0) continue;
    total++;
    if (frames[0]![2]!.includes('kernel')) kernel++;
    for (const [name, re] of STAGES)
      if (frames.some((f) => re.test(f[1]!))) stage.set(name, (stage.get(name) ?? 0) + 1);
    const js = frames.find((f) => f[1]!.startsWith('JS:'))?.[1];
    if (js && frames.some((f) => /JS:\S*relayFrame /.test(f[1]!))) {
      const k = js.replace(/ file:\/\/\S*\/(dist|src)\//, ' $1/').replace(/^JS:[*^~]?/, '');
      self.set(k, (self.get(k) ?? 0) + 1);
    }
  }
  console.log(`\n${v}: ${wall.toFixed(0)} us wall per call (under perf), the proxy's CPU per call:`);
  console.log(`${us(total)} us in all, ${us(kernel)} us of it in the kernel`);
  for (const [name] of STAGES) console.log(`${us(stage.get(name) ?? 0)} us  ${name} (inclusive)`);
  const deciding = (stage.get(STAGES[1]![0]) ?? 0) - (stage.get(STAGES[0]![0]) ?? 0);
  if (deciding > 0) console.log(`${us(deciding)} us  the decision (relayFrame less JSON.parse)`);
  if (self.size > 0) console.log('  within relayFrame, by the innermost JavaScript function:');
  for (const [k, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 16)) console.log(`${us(n)} us    ${k}`);
}

function summarizeThreads(v: string, wall: number, script: string): void {
  const threads = new Map<string, number>();
  const leaf = new Map<string, number>();
  const outer = new Map<string, number>();
  const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  // With a thread id, each sample is a line `tid` and then its frames, the leaf first.
  for (const sample of script.split('\n\n')) {
    const [head, ...rest] = sample.split('\n').filter((l) => l.trim());
    const tid = head && /^\s*(\d+)\s*$/.exec(head)?.[1];
    const frames = rest.map((l) => FRAME.exec(l)?.[1] ?? '?');
    if (!tid || frames.length === 0) continue;
    add(threads, tid);
    const js = frames.find((f) => f.startsWith('JS:'));
    add(leaf, `${tid} ${js ? short(js) : `${frames[0]} [native]`}`);
    const ours = frames.findLast((f) => /^JS:.*\/dist\//.test(f));
    add(outer, `${tid} ${ours ? short(ours) : '(none of ours)'}`);
  }
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log(`\n${v}: ${wall.toFixed(0)} us wall per call (under perf), CPU per call by thread:`);
  for (const [t, n] of top(threads, 12)) console.log(`${us(n)} us  thread ${t}`);
  console.log('  by function (self):');
  for (const [k, n] of top(leaf, 30)) console.log(`${us(n)} us    ${k}`);
  console.log("  by the outermost of intentguard's frames:");
  for (const [k, n] of top(outer, 12)) console.log(`${us(n)} us    ${k}`);
}
