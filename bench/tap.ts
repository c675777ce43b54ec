// In-process tools/call round trips through an SDK Client and McpServer over InMemory, with and without
// the tap (built-in intent policy), measured side by side in one run, alternating rounds.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { existsSync } from 'node:fs';
import { fmt, printTable, summarise } from './lib.js';

// Measure the code that runs in production: the compiled dist/ (built by `npm ci`), else the sources.
type Lib = typeof import('../src/index.js');
const distUrl = new URL('../dist/index.js', import.meta.url);
const built = existsSync(distUrl);
const { createMonitor, parseIntent, tap }: Lib = built
  ? ((await import(distUrl.href)) as Lib)
  : await import('../src/index.js');

async function connect(tapped: boolean) {
  const server = new McpServer({ name: 'bench', version: '1' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  const [c, s] = InMemoryTransport.createLinkedPair();
  await server.connect(s);
  const client = new Client({ name: 'bench', version: '1' });
  const monitor = tapped ? createMonitor() : undefined;
  const intent = parseIntent({ purpose: 'bench', tools: ['echo'] });
  await client.connect(monitor ? tap(c, monitor, { side: 'client', intent }) : c);
  return {
    client,
    close: async () => {
      await client.close();
      monitor?.close();
    },
  };
}

async function round(client: Client, n: number, lat: number[]): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    lat.push(Number(process.hrtime.bigint() - t0));
  }
  return Number(process.hrtime.bigint() - start);
}

export async function benchTap(calls = Number(process.env.BENCH_CALLS ?? 20_000)): Promise<void> {
  const direct = await connect(false);
  const tapped = await connect(true);
  await round(direct.client, 2000, []);
  await round(tapped.client, 2000, []);
  const latD: number[] = [],
    latT: number[] = [];
  let elD = 0,
    elT = 0;
  const rounds = 10;
  for (let r = 0; r < rounds; r++) {
    elD += await round(direct.client, calls / rounds, latD);
    elT += await round(tapped.client, calls / rounds, latT);
  }
  const d = summarise('direct', latD, elD);
  const t = summarise('tapped', latT, elT);
  printTable(
    `tap overhead (${built ? 'compiled dist/' : 'sources via tsx'}): ${calls} tools/call round trips each, InMemory, SDK Client+McpServer (targets: throughput >= 0.9x, added p99 <= 50 us)`,
    [
      {
        path: 'direct',
        'calls/s': fmt(d.opsPerSec, 0),
        'p50 us': fmt(d.p50us),
        'p99 us': fmt(d.p99us),
        ratio: '1.00x',
      },
      {
        path: 'tapped (intent policy)',
        'calls/s': fmt(t.opsPerSec, 0),
        'p50 us': fmt(t.p50us),
        'p99 us': fmt(t.p99us),
        ratio: `${(t.opsPerSec / d.opsPerSec).toFixed(2)}x`,
      },
    ],
  );
  console.log(`added latency: p50 +${fmt(t.p50us - d.p50us)} us, p99 +${fmt(t.p99us - d.p99us)} us`);
  await direct.close();
  await tapped.close();
}

if (import.meta.url === `file://${process.argv[1]}`) await benchTap();
