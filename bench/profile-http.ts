// Profiling helper (not a benchmark): CPU time per call of `intentguard http` itself (its process and
// threads, from /proc), run as the CLI in its own process, in front of an SDK v2 server; a v2 client
// calls a trivial tool through it. On a loaded shared machine wall time is mostly waiting for a core;
// the proxy's own CPU per call is what it costs. Linux only.
// Usage: node --import tsx bench/profile-http.ts [calls] — ERA=2025 for the 2025-11-25 path (an SDK v1
// client and server, a session), default the 2026-07-28 stateless path; IG_ALT=<root of another build>
// adds that build's proxy beside this one's, rounds taken in turn; ROUNDS=n; CPU_PROF=<dir> runs the
// proxies under `node --cpu-prof` (profiles written there as they exit); PROXY_NODE_FLAGS=<flags> runs
// them with those node flags; PROXY_ARGS=<flags> passes more CLI flags (e.g. --no-pack, --no-record).
import { spawn, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as z from 'zod';
import { freePort } from '../test/helpers/everything-http.js';
import { TRIVIAL_SERVER, proxyBenchDir } from './lib.js';

// The SDK clients leave an abort listener per request until GC (see bench/proxy.ts).
setMaxListeners(0);
const calls = Number(process.argv[2] ?? 3000);
const rounds = Number(process.env.ROUNDS ?? 10);
const modern = process.env.ERA !== '2025';
const node = process.execPath;
const TICK_US = 1e6 / 100; // USER_HZ

/** utime + stime (µs) of a process, all its threads. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

/** utime + stime (µs) per thread name of a process (/proc/<pid>/task/<tid>/stat). */
function threadsOf(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = `${name}#${tid}`;
      out.set(key, (out.get(key) ?? 0) + (Number(f[11]) + Number(f[12])) * TICK_US);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

interface Caller {
  call(): Promise<unknown>;
  close(): Promise<void>;
}

async function caller(url: string): Promise<Caller> {
  if (modern) {
    const c = new Client(
      { name: 'cpu', version: '2' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await c.connect(new StreamableHTTPClientTransport(new URL(url)));
    return { call: () => c.callTool({ name: 'noop', arguments: {} }), close: () => c.close() };
  }
  const c = new ClientV1({ name: 'cpu', version: '1' });
  await c.connect(new HttpV1(new URL(url)));
  return { call: () => c.callTool({ name: 'noop', arguments: {} }), close: () => c.close() };
}

async function up(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(url, { method: 'GET' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not come up`);
}

const { dir, site } = proxyBenchDir('ig-profile-http-');
const children: ChildProcess[] = [];
const server = createServer(
  (req, res) =>
    void toNodeHandler(
      createMcpHandler(() => {
        const s = new McpServer({ name: 'cpu-v2', version: '1' });
        s.registerTool('noop', { inputSchema: z.object({}) }, async () => ({ content: [] }));
        return s;
      }),
    )(req, res),
);
try {
  let upstream: string;
  if (modern) {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  } else {
    const port = await freePort();
    children.push(spawn(node, [TRIVIAL_SERVER, 'http', String(port)], { stdio: 'ignore' }));
    upstream = `http://127.0.0.1:${port}/mcp`;
    await up(upstream);
  }
  const builds: [string, string][] = [['this build', '.']];
  if (process.env.IG_ALT) builds.push([`IG_ALT ${process.env.IG_ALT}`, process.env.IG_ALT]);
  const open: {
    label: string;
    c: Caller;
    pid: number;
    cpu: number;
    wall: number;
    threads: Map<string, number>;
  }[] = [];
  for (const [label, root] of builds) {
    const port = await freePort();
    const child = spawn(
      node,
      [
        ...(process.env.CPU_PROF
          ? [
              '--cpu-prof',
              '--cpu-prof-interval',
              process.env.CPU_PROF_INTERVAL ?? '1000',
              '--cpu-prof-dir',
              process.env.CPU_PROF,
            ]
          : []),
        ...(process.env.PROXY_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
        join(root, 'bin/intentguard.js'),
        'http',
        '--listen',
        `127.0.0.1:${port}`,
        '--upstream',
        upstream,
        '--intent',
        join(dir, 'intent.yaml'),
        '--rules',
        site,
        '--db',
        join(dir, `${open.length}.db`),
        ...(process.env.PROXY_ARGS?.split(' ').filter(Boolean) ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(child);
    const url = `http://127.0.0.1:${port}/mcp`;
    await up(url);
    const c = await caller(url);
    for (let i = 0; i < 1000; i++) await c.call();
    open.push({ label, c, pid: child.pid!, cpu: 0, wall: 0, threads: new Map() });
  }
  const per = Math.ceil(calls / rounds);
  for (let r = 0; r < rounds; r++)
    for (const o of open) {
      const c0 = cpuOf(o.pid);
      const th0 = threadsOf(o.pid);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < per; i++) await o.c.call();
      o.wall += Number(process.hrtime.bigint() - t0) / 1e3;
      o.cpu += cpuOf(o.pid) - c0;
      for (const [name, t] of threadsOf(o.pid))
        o.threads.set(name, (o.threads.get(name) ?? 0) + t - (th0.get(name) ?? 0));
    }
  for (const o of open) {
    await o.c.close();
    const n = per * rounds;
    console.log(
      `${o.label} (${modern ? '2026-07-28 stateless' : '2025-11-25'}): ${(o.cpu / n).toFixed(0)} us CPU per call in intentguard http, ${(o.wall / n).toFixed(0)} us wall per call`,
    );
    const threads = [...o.threads].filter(([, t]) => t > 0).sort((a, b) => b[1] - a[1]);
    console.log(
      `  by thread, us per call: ${threads.map(([name, t]) => `${name} ${(t / n).toFixed(0)}`).join(', ')}`,
    );
  }
} finally {
  await Promise.all(
    children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : (c.once('exit', r), c.kill())))),
  );
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
