// The fleet bench's proxy half (`npm run bench -- fleet`): `intentguard http` instances (processes of
// the built CLI, bin/intentguard.js) behind a small round-robin TCP balancer written here, driven by
// stateless (2026-07-28) clients — one session each (Intentguard-Correlation), a new connection per
// request so that the balancer spreads every session's requests over the instances. Rows: one
// instance on SQLite, one on PostgreSQL, three on one PostgreSQL; the same clients and balancer.
import { spawn } from 'node:child_process';
import { createServer as createHttpServer, request } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler } from '@modelcontextprotocol/server';
import pg from 'pg';
import { fmt, percentile } from './lib.js';
import { noopServer } from './stateless.js';

const withoutSource = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.INTENTGUARD_FROM_SOURCE;
  return env;
};

interface Proxy {
  readonly port: number;
  stop(): Promise<void>;
}

/** One `intentguard http` process; resolves once it prints where it listens. */
async function instance(store: string, upstream: string, dir: string): Promise<Proxy> {
  const child = spawn(
    process.execPath,
    [
      'bin/intentguard.js',
      'http',
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      upstream,
      '--store',
      store,
      '--intent',
      join(dir, 'intent.yaml'),
      '--rules',
      join(dir, 'site-rules'),
      '--session-idle-timeout',
      '1h',
      // The balancer's address is the Host clients name (any port of 127.0.0.1).
      '--allowed-hosts',
      '127.0.0.1',
    ],
    {
      // The built CLI (dist/), as users run it: not the sources (a parent's INTENTGUARD_FROM_SOURCE dropped).
      env: { ...withoutSource(), INTENTGUARD_AUDIT_KEY: join(dir, 'audit.key') },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`intentguard http exited (${code})`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const m = /intentguard http: http:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
      if (m) resolve(Number(m[1]));
      else if (process.env.BENCH_DEBUG) process.stderr.write(`${line}\n`);
    });
  });
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Round-robin per TCP connection over `ports`. */
async function balancer(ports: readonly number[]): Promise<Server> {
  let next = 0;
  const server = createServer((client) => {
    const backend = connect(ports[next++ % ports.length]!, '127.0.0.1');
    client.pipe(backend).pipe(client);
    const drop = () => {
      client.destroy();
      backend.destroy();
    };
    client.on('error', drop);
    backend.on('error', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const body = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'noop',
      arguments: {},
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });

/** One stateless call on a new connection; resolves with its HTTP status. */
const call = (port: number, session: string, id: number) =>
  new Promise<number>((resolve, reject) => {
    const text = body(id);
    const r = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        agent: false,
        headers: {
          host: `127.0.0.1:${port}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'noop',
          'intentguard-correlation': session,
        },
      },
      (res) => {
        let answer = '';
        res.on('data', (c: Buffer) => {
          if (res.statusCode !== 200) answer += c.toString();
        });
        res.on('end', () => {
          if (answer && process.env.BENCH_DEBUG) process.stderr.write(`${res.statusCode}: ${answer}\n`);
          resolve(res.statusCode ?? 0);
        });
      },
    );
    r.on('error', reject);
    r.end(text);
  });

/** `clients` sessions at once, `calls` sequential calls each: calls/s, p50/p99 (ms), failures. */
async function drive(port: number, tag: string, clients: number, calls: number) {
  const ms: number[] = [];
  let failed = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < calls; i++) {
        const s = process.hrtime.bigint();
        const status = await call(port, `${tag}-${c}`, i);
        ms.push(Number(process.hrtime.bigint() - s) / 1e6);
        if (status !== 200) failed++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  ms.sort((a, b) => a - b);
  return {
    rate: ms.length / elapsed,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    failed,
    sent: ms.length,
  };
}

/** Rows of the proxy half; `pgUrl` makes a fresh database per row. */
export async function fleetProxies(newDatabase: (name: string) => string): Promise<Record<string, string>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-fleet-http-'));
  writeFileSync(join(dir, 'intent.yaml'), 'purpose: benchmark\ntools: [noop]\n');
  // As in the stateless bench: the rate rules would stop thousands of calls a second (an operator's override).
  mkdirSync(join(dir, 'site-rules'));
  for (const id of ['IG-RATE-001', 'IG-RATE-002'])
    writeFileSync(join(dir, 'site-rules', `${id}.override.yaml`), `override: ${id}\nenabled: false\n`);
  const handler = toNodeHandler(createMcpHandler(noopServer));
  const up = createHttpServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const upstream = `http://127.0.0.1:${(up.address() as AddressInfo).port}/mcp`;
  const clients = Number(process.env.BENCH_FLEET_CLIENTS ?? 8);
  const calls = Number(process.env.BENCH_FLEET_CALLS ?? 150);
  const rows: Record<string, string>[] = [];
  const setups: { what: string; store: () => string; instances: number }[] = [
    { what: '1 instance, SQLite', store: () => join(dir, 'one.db'), instances: 1 },
    { what: '1 instance, PostgreSQL', store: () => newDatabase('bench_fleet_one'), instances: 1 },
    { what: '3 instances, one PostgreSQL', store: () => newDatabase('bench_fleet_three'), instances: 3 },
  ];
  try {
    for (const s of setups) {
      const store = s.store();
      const proxies: Proxy[] = [];
      for (let i = 0; i < s.instances; i++) proxies.push(await instance(store, upstream, dir));
      const lb = await balancer(proxies.map((p) => p.port));
      const port = (lb.address() as AddressInfo).port;
      try {
        await drive(port, `warm-${s.instances}-${rows.length}`, clients, 20);
        const r = await drive(port, `run-${s.instances}-${rows.length}`, clients, calls);
        await Promise.all(proxies.map((p) => p.stop()));
        const recorded = store.startsWith('postgres') ? await eventsIn(store) : undefined;
        rows.push({
          what: s.what,
          'calls/s': fmt(r.rate),
          'p50 ms': r.p50.toFixed(2),
          'p99 ms': r.p99.toFixed(2),
          failed: String(r.failed),
          // Each call is two events (request, answer); the warm-up's sessions are counted too.
          'events recorded / sent':
            recorded === undefined ? '-' : `${recorded} / ${2 * (r.sent + clients * 20)}`,
        });
      } finally {
        await Promise.all(proxies.map((p) => p.stop()));
        lb.close();
      }
    }
  } finally {
    up.close();
  }
  return rows;
}

async function eventsIn(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM events');
    return Number(r.rows[0]!.n);
  } finally {
    await c.end();
  }
}
