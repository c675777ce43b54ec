// Profiling helper (not a benchmark): CPU time per call of every process and thread on a stdio path
// (user + system, from /proc), which is what decides throughput when the machine's cores are busy:
// wall-clock figures there are mostly time waiting for a core. Also the system share of it, and how often
// the proxy was preempted (involuntary context switches: the peer its write woke taking its core). Linux only.
// Usage: node --import tsx bench/profile-cpu.ts [calls] — prints one block per path (PATHS="a;b" for some,
// ROUNDS=n, BY_THREAD=1 for each thread apart, IG_ALT=<root of another build> to compare with it).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { TRIVIAL_SERVER, proxyBenchDir } from './lib.js';

const calls = Number(process.argv[2] ?? 5000);
const node = process.execPath;
const TICK_US = 1e6 / 100; // USER_HZ

/** utime + stime (µs) of each thread of a process and its descendants, by "pid/tid name". */
function cpuOf(root: number): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (pid: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tasks) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const k = `${pid === root ? 'proxy' : `child ${pid}`} ${name}${process.env.BY_THREAD ? ` ${tid}` : ''}`;
        out.set(k, (out.get(k) ?? 0) + (Number(f[11]) + Number(f[12])) * TICK_US);
        out.set(SYSTEM, (out.get(SYSTEM) ?? 0) + Number(f[12]) * TICK_US);
      } catch {
        /* gone */
      }
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
          if (c) visit(Number(c));
      } catch {
        /* none */
      }
    }
  };
  visit(root);
  return out;
}

/** Not a thread: the system (kernel) share of the proxy's and the server's CPU. */
const SYSTEM = '(system time, all processes)';

/**
 * Involuntary context switches of the proxy's threads: each is the kernel taking the proxy's core while
 * it could still run, mostly for the peer that one of its pipe writes just woke.
 */
function preemptionsOf(pid: number): number {
  let n = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      n += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    }
  } catch {
    /* gone */
  }
  return n;
}

const { dir, site, stdioArgs } = proxyBenchDir('ig-profile-cpu-');
const SERVER = [node, TRIVIAL_SERVER, 'stdio'];
const ig = (...flags: string[]) => stdioArgs(flags);
const paths: [string, string[]][] = [
  ['direct', SERVER.slice(1)],
  ['null relay', ['bench/fixtures/null-relay.mjs', ...SERVER]],
  ['intent policy only', ig('--no-pack', '--no-record')],
  ['pack, no recording', ig('--rules', site, '--no-record')],
  ['pack + recording', ig('--rules', site, '--db', join(dir, 'r.db'))],
];
// IG_ALT=<root of another build> adds its pack + recording and policy-only paths beside this one's.
const alt = process.env.IG_ALT;
if (alt)
  paths.push(
    [
      'pack + recording (IG_ALT)',
      stdioArgs(['--rules', site, '--db', join(dir, 'alt.db')], join(alt, 'bin/intentguard.js')),
    ],
    ['intent policy only (IG_ALT)', stdioArgs(['--no-pack', '--no-record'], join(alt, 'bin/intentguard.js'))],
  );
const only = process.env.PATHS?.split(';');
const rounds = Number(process.env.ROUNDS ?? 10);
try {
  // Every path open at once and warm, then rounds of calls taken in turn: load drift falls on all alike.
  const open: {
    label: string;
    client: Client;
    pid: number;
    wall: number;
    cpu: Map<string, number>;
    preempted: number;
  }[] = [];
  for (const [label, args] of paths) {
    if (only && !only.includes(label)) continue;
    const transport = new StdioClientTransport({ command: node, args, stderr: 'inherit' });
    const client = new Client({ name: 'cpu', version: '1' });
    await client.connect(transport);
    const pid = (transport as unknown as { _process: { pid: number } })._process.pid;
    for (let i = 0; i < 2000; i++) await client.callTool({ name: 'noop', arguments: {} });
    open.push({ label, client, pid, wall: 0, cpu: new Map(), preempted: 0 });
  }
  const per = Math.ceil(calls / rounds);
  for (let r = 0; r < rounds; r++) {
    for (const o of open) {
      const before = cpuOf(o.pid);
      const preempted = preemptionsOf(o.pid);
      const self0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < per; i++) await o.client.callTool({ name: 'noop', arguments: {} });
      o.wall += Number(process.hrtime.bigint() - t0) / 1e3;
      const self = process.cpuUsage(self0);
      const after = cpuOf(o.pid);
      o.preempted += preemptionsOf(o.pid) - preempted;
      o.cpu.set('client', (o.cpu.get('client') ?? 0) + self.user + self.system);
      for (const [k, v] of after) o.cpu.set(k, (o.cpu.get(k) ?? 0) + v - (before.get(k) ?? 0));
    }
  }
  const n = per * rounds;
  for (const o of open) {
    await o.client.close();
    let total = 0;
    const lines: string[] = [];
    for (const [k, v] of o.cpu) {
      if (k === SYSTEM) continue;
      total += v / n;
      if (v / n >= 0.5) lines.push(`  ${k} ${(v / n).toFixed(1)} us`);
    }
    console.log(
      `${o.label}: ${(o.wall / n).toFixed(0)} us wall per call, ${total.toFixed(0)} us CPU per call (all processes, ${((o.cpu.get(SYSTEM) ?? 0) / n).toFixed(0)} us of it system time in the proxy and server); the proxy preempted ${(o.preempted / n).toFixed(2)} times per call\n${lines.join('\n')}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
