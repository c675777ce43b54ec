// The MCP 2026-07-28 stateless path (issue 15): a real SDK v2 Client pinned to 2026-07-28 calling a
// trivial tool on an SDK v2 McpServer (createMcpHandler, stateless) directly, and through
// `intentguard http` (grant-less: every request joins one intentguard session, decided, one POST
// upstream each). Rows taken in turn on both paths, so drift on a shared machine falls on both alike.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { fmt, internal, printTable, summarise, type Sample } from './lib.js';
import { nullHttpRelay } from './null-http-relay.js';

// The proxy runs in this process from the compiled dist/ (what the CLI runs), as in bench/proxy.ts;
// the sources through tsx would add its transform's per-function costs to the proxy's side only.
const { startHttpProxy } =
  await internal<typeof import('../src/transports/http/server.js')>('transports/http/server');
const { createRuntime } = await internal<typeof import('../src/app/runtime.js')>('app/runtime');

/** What the bench needs of a build of intentguard: this one's, or another's (BENCH_STATELESS_ALT). */
interface Build {
  readonly createRuntime: typeof createRuntime;
  readonly startHttpProxy: typeof startHttpProxy;
}

const altBuild = async (dist: string): Promise<Build> => {
  const at = (path: string) => pathToFileURL(resolve(dist, path)).href;
  const [{ createRuntime }, { startHttpProxy }] = (await Promise.all([
    import(at('app/runtime.js')),
    import(at('transports/http/server.js')),
  ])) as [Pick<Build, 'createRuntime'>, Pick<Build, 'startHttpProxy'>];
  return { createRuntime, startHttpProxy };
};

/** A v2 McpServer with one tool that does nothing (also the fleet bench's upstream). */
export const noopServer = () => {
  const s = new McpServer({ name: 'bench-v2', version: '1' });
  s.registerTool('noop', { inputSchema: z.object({}) }, async () => ({ content: [] }));
  return s;
};

async function connect(url: string): Promise<Client> {
  const client = new Client(
    { name: 'bench', version: '2' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  for (let i = 0; i < 100; i++) await client.callTool({ name: 'noop', arguments: {} });
  return client;
}

/**
 * Rows of `perRound` sequential calls, taken in turn on each client; one sample per client, with the
 * CPU time (user + system) of this whole process per call: client, server, and on the proxied path the
 * proxy and its recording thread. On a loaded machine wall time is mostly waiting for a core; the CPU
 * per call, and its difference between the paths (what the proxy costs), moves far less.
 */
async function rounds(clients: readonly { client: Client; label: string }[], n: number, perRound: number) {
  const lat = clients.map(() => [] as number[]);
  const elapsed = clients.map(() => 0);
  const cpu = clients.map(() => 0);
  for (let r = 0; r < n; r++)
    for (const [i, { client }] of clients.entries()) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < perRound; k++) {
        const s = process.hrtime.bigint();
        await client.callTool({ name: 'noop', arguments: {} });
        lat[i]!.push(Number(process.hrtime.bigint() - s));
      }
      elapsed[i]! += Number(process.hrtime.bigint() - t0);
      const c = process.cpuUsage(c0);
      cpu[i]! += c.user + c.system;
    }
  return clients.map(({ label }, i) => ({
    ...summarise(label, lat[i]!, elapsed[i]!),
    cpuUs: cpu[i]! / lat[i]!.length,
  }));
}

/** `npm run bench -- proxy` calls this after the 2025 rows: direct v2 vs v2 through intentguard http. */
export async function benchStateless(): Promise<Sample[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-stateless-'));
  writeFileSync(join(dir, 'intent.yaml'), 'purpose: benchmark\ntools: [noop]\n');
  // As in the 2025 rows: the rate rules would stop thousands of calls a second; an operator's override.
  const site = join(dir, 'site-rules');
  mkdirSync(site);
  for (const id of ['IG-RATE-001', 'IG-RATE-002'])
    writeFileSync(join(site, `${id}.override.yaml`), `override: ${id}\nenabled: false\n`);
  const handler = toNodeHandler(createMcpHandler(noopServer));
  const http = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const upstream = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  const start = async (build: Build, name: string, pack = true, record = true) => {
    const runtime = await build.createRuntime({
      mode: 'enforce',
      db: record && join(dir, `${name}.db`),
      pack,
      rules: [site],
      intentFile: join(dir, 'intent.yaml'),
      log: () => undefined,
    });
    return { runtime, proxy: await build.startHttpProxy({ upstream, runtime }) };
  };
  const proxies = [await start({ createRuntime, startHttpProxy }, 'stateless')];
  const relay = await nullHttpRelay(upstream);
  // BENCH_STATELESS_ALT=<dist/ of another build>: its proxy beside this one's, in the same rounds.
  const alt = process.env.BENCH_STATELESS_ALT;
  const altProxy = alt ? await start(await altBuild(alt), 'alt') : undefined;
  if (altProxy) proxies.push(altProxy);
  // BENCH_STATELESS_PARTS=1: this build without the pack, without recording, without both, in the same
  // rounds: which part of the added p50 is the hop, the decisions and the recording.
  const parts: { proxy: (typeof proxies)[number]; label: string }[] = [];
  if (process.env.BENCH_STATELESS_PARTS === '1')
    for (const [pack, record, label] of [
      [true, false, 'the same, rule pack, no recording'],
      [false, true, 'the same, intent policy only, recording'],
      [false, false, 'the same, intent policy only, no recording'],
    ] as const)
      parts.push({
        proxy: await start({ createRuntime, startHttpProxy }, `part${parts.length}`, pack, record),
        label,
      });
  proxies.push(...parts.map((p) => p.proxy));
  const open: { client: Client; label: string }[] = [];
  try {
    open.push({ client: await connect(upstream), label: 'direct (v2 client -> v2 server, 2026-07-28)' });
    open.push({
      client: await connect(relay.url),
      label: 'null HTTP relay (node:http, reads and forwards bodies: the floor)',
    });
    open.push({
      client: await connect(proxies[0]!.proxy.url),
      label: 'intentguard http, stateless (rule pack, recording)',
    });
    if (altProxy)
      open.push({
        client: await connect(altProxy.proxy.url),
        label: `the same, ${alt} (BENCH_STATELESS_ALT)`,
      });
    for (const part of parts) open.push({ client: await connect(part.proxy.proxy.url), label: part.label });
    const samples = await rounds(
      open,
      Number(process.env.BENCH_STATELESS_ROUNDS ?? 8),
      Number(process.env.BENCH_STATELESS_CALLS ?? 250),
    );
    printTable(
      'Streamable HTTP, 2026-07-28 stateless: sequential tools/call of a trivial tool, rounds taken in turn (target: added p50 <= 0.5 ms)',
      samples.map((s) => ({
        path: s.label,
        'calls/s': fmt(s.opsPerSec, 0),
        'p50 ms': fmt(s.p50us / 1000, 3),
        'p99 ms': fmt(s.p99us / 1000, 3),
        'throughput vs direct': `${(s.opsPerSec / samples[0]!.opsPerSec).toFixed(2)}x`,
        'added p50': `${fmt((s.p50us - samples[0]!.p50us) / 1000, 3)} ms`,
        'CPU us/call (process)': fmt(s.cpuUs, 0),
        'added CPU us/call': fmt(s.cpuUs - samples[0]!.cpuUs, 0),
      })),
    );
    return samples;
  } finally {
    for (const o of open) await o.client.close();
    await relay.close();
    for (const { proxy, runtime } of proxies) {
      await proxy.close();
      await runtime.close();
    }
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}
