// Fleet tests' plumbing: real intentguard instances in child processes on one real PostgreSQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generateKeys, type GeneratedKeys } from '../../src/identity/keys.js';
import { mintGrant } from '../../src/identity/grant.js';
import { httpUpstream } from '../helpers/http-upstream.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';

export const ISS = 'https://idp.fleet.test';
export const AUD = 'https://intentguard.fleet.test/mcp';

/** A running instance: its proxy URL, its pid, and a request/answer line protocol over stdin/stdout. */
export interface Instance {
  readonly url: string;
  readonly pid: number;
  /** Everything its ready line said (an instance script may say more than its URL and pid). */
  readonly info: Readonly<Record<string, unknown>>;
  readonly child: ChildProcess;
  ask(op: string, args?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Kill it (SIGKILL: no clean shutdown, as a crashed host). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** The keys, JWKS file and audit key file every instance of one test fleet shares. */
export interface FleetKit {
  readonly keys: GeneratedKeys;
  readonly jwks: string;
  readonly auditKey: string;
  grant(sub: string, intent?: unknown): Promise<string>;
}

export async function fleetKit(): Promise<FleetKit> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-fleet-'));
  const keys = await generateKeys();
  const jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify(keys.publicJwks));
  return {
    keys,
    jwks,
    auditKey: join(dir, 'audit.key'),
    grant: (sub, intent = { purpose: 'echo things', tools: ['echo'] }) =>
      mintGrant({ privateJwk: keys.privateJwk, iss: ISS, aud: AUD, sub, ttl: '10m', intent }),
  };
}

const script = fileURLToPath(new URL('./instance.ts', import.meta.url));

/**
 * Start one instance in its own process (`node --import tsx test/fleet/instance.ts`, or another instance
 * script given as `opts.script`, which gets `opts.config` in its configuration too).
 */
export async function startInstance(
  kit: FleetKit,
  store: string,
  upstream: string,
  opts: { readonly script?: string; readonly config?: Record<string, unknown> } = {},
): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', opts.script ?? script], {
    env: {
      ...process.env,
      FLEET_INSTANCE: JSON.stringify({
        store,
        auditKey: kit.auditKey,
        jwks: kit.jwks,
        iss: ISS,
        aud: AUD,
        upstream,
        ...opts.config,
      }),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting = new Map<number, (o: Record<string, unknown>) => void>();
  let next = 0;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = new Promise<{ ready: string; pid: number } & Record<string, unknown>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.ready) resolve(o as { ready: string; pid: number } & Record<string, unknown>);
      else waiting.get(o.id as number)?.(o);
    });
  });
  const info = await ready;
  return {
    url: info.ready,
    pid: info.pid,
    info,
    child,
    ask(op, args = {}) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, (o) => (o.error ? reject(new Error(String(o.error))) : resolve(o)));
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      });
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A test fleet: a throwaway PostgreSQL, one HTTP upstream, two instances on one database of it. */
export interface TwoInstances {
  readonly server: TempPostgres;
  readonly kit: FleetKit;
  readonly upstream: Awaited<ReturnType<typeof httpUpstream>>;
  /** The database both instances use. */
  readonly url: string;
  readonly a: Instance;
  readonly b: Instance;
  stop(): Promise<void>;
}

export async function startTwoInstances(database: string): Promise<TwoInstances> {
  const server = await startPostgres();
  const url = server.createDatabase(database);
  const kit = await fleetKit();
  const upstream = await httpUpstream({ json: true });
  const [a, b] = await Promise.all([
    startInstance(kit, url, upstream.url),
    startInstance(kit, url, upstream.url),
  ]);
  return {
    server,
    kit,
    upstream,
    url,
    a,
    b,
    async stop() {
      await Promise.allSettled([a.stop(), b.stop()]);
      await upstream.close();
      server.stop();
    },
  };
}

/** A real SDK client connected to an instance with a bearer grant (stateful Streamable HTTP). */
export async function connectAgent(url: string, token: string): Promise<Client> {
  const c = new Client({ name: 'agent', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return c;
}
