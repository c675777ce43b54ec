// Fleet tests' plumbing: real intentguard instances in child processes on one real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
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
import { openBackend } from '../../src/store/backend.js';
import { createMonitor, intentPolicy, parseIntent } from '../../src/index.js';
import { fleetSessions, type FleetSessions } from '../../src/fleet/sessions.js';
import type { SessionHandle } from '../../src/monitor/handle.js';
import { createPgRecorder, type PgRecorder } from '../../src/store/pg/recorder.js';
import { openPgStore, type PgStore } from '../../src/store/pg/store.js';
import { httpUpstream } from '../helpers/http-upstream.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';

export const ISS = 'https://idp.fleet.test';
export const AUD = 'https://intentguard.fleet.test/mcp';

/** A running instance: its proxy URL, its pid, and a request/answer line protocol over stdin/stdout. */
/**
 * What an instance process reads from `FLEET_INSTANCE` (test/fleet/instance.ts, and the console
 * instance of test/era/fixtures/fleet-instance.ts, which adds its console token).
 */
export interface InstanceConfig {
  store: string;
  auditKey: string;
  jwks: string;
  iss: string;
  aud: string;
  upstream: string;
  /** false: no approval channel (a held call is denied at once). */
  approvals?: false;
  /** A stdio server to front instead of `upstream` (`intentguard http -- <command>`). */
  server?: { command: string; args: string[] };
}

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
  opts: {
    readonly script?: string;
    readonly config?: Record<string, unknown>;
    readonly approvals?: false;
    readonly server?: { command: string; args: string[] };
  } = {},
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
        ...(opts.approvals === false ? { approvals: false } : {}),
        ...(opts.server ? { server: opts.server } : {}),
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

/** What a test fleet fronts: an upstream MCP endpoint. */
interface Upstream {
  readonly url: string;
  close(): Promise<void>;
}

/** A test fleet: a throwaway PostgreSQL, one HTTP upstream, two instances on one database of it. */
export interface TwoInstances<U extends Upstream = Awaited<ReturnType<typeof httpUpstream>>> {
  readonly server: TempPostgres;
  readonly kit: FleetKit;
  readonly upstream: U;
  /** The database both instances use. */
  readonly url: string;
  readonly a: Instance;
  readonly b: Instance;
  stop(): Promise<void>;
}

/** Two instances on a fresh database, in front of `upstream` (default: the demo server, JSON answers). */
export async function startTwoInstances<U extends Upstream = Awaited<ReturnType<typeof httpUpstream>>>(
  database: string,
  options: { upstream?: () => Promise<U>; approvals?: false } = {},
): Promise<TwoInstances<U>> {
  const server = await startPostgres();
  const url = server.createDatabase(database);
  const kit = await fleetKit();
  const upstream = await (
    options.upstream ?? (() => httpUpstream({ json: true }) as unknown as Promise<U>)
  )();
  const extra = options.approvals === false ? { approvals: false as const } : {};
  const [a, b] = await Promise.all([
    startInstance(kit, url, upstream.url, extra),
    startInstance(kit, url, upstream.url, extra),
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

/** `audit verify` of a fleet's database passes (with the fleet's key, read only). */
export async function assertVerifies(url: string, keyFile: string): Promise<void> {
  const backend = await openBackend(url, { keyFile, readonly: true });
  try {
    const report = await backend.verify();
    assert.equal(report.ok, true, JSON.stringify(report));
  } finally {
    await backend.close();
  }
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

export const ECHO_INTENT = parseIntent({ purpose: 'echo things', tools: ['echo'] });

/** One instance in this process (no HTTP): its store, monitor, recorder (fenced) and fleet sessions (lease TTL 300 ms). */
export async function inProcessInstance(url: string, keyFile: string, flushDelayMs: number) {
  const store: PgStore = await openPgStore(url, { keyFile });
  const monitor = createMonitor({ policy: intentPolicy() });
  let fleet: FleetSessions | undefined;
  const recorder: PgRecorder = createPgRecorder(store, monitor, {
    flushDelayMs,
    fence: () => fleet && { owner: fleet.leases.owner, of: fleet.fence },
  });
  fleet = await fleetSessions(store, monitor, () => recorder.flush(), { ttlMs: 300 });
  const f = fleet;
  return {
    store,
    monitor,
    recorder,
    fleet,
    /** Own `scope` and open a stateless session of it here, named in the fleet. */
    async openOwned(scope: string): Promise<SessionHandle> {
      assert.equal(await f.own(scope, undefined, ECHO_INTENT), true);
      const s = monitor.open({ intent: ECHO_INTENT, transport: 'http-stateless' });
      await f.register({ id: s.id, scope, kind: 'stateless', handle: 'key' }, undefined, ECHO_INTENT);
      return s;
    },
    /** Take `scope` over once its lease ran out: the session continued here, rebuilt from the record. */
    async takeOver(scope: string): Promise<SessionHandle> {
      let continued: SessionHandle | undefined;
      f.adopt('stateless', (_row, handle) => {
        continued = handle;
        return true;
      });
      while ((await f.own(scope, undefined, ECHO_INTENT)) !== true)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(continued, 'the session was continued here');
      return continued;
    },
    async close() {
      await fleet.close();
      await recorder.close().catch(() => undefined);
      monitor.close();
      await store.close();
    },
  };
}

let n = 0;
/** One echo tools/call seen from the client (`call N` in its text); resolves with its text. */
export const echoCall = async (s: SessionHandle): Promise<string> => {
  const text = `call ${++n}`;
  await s.observe('c2s', {
    jsonrpc: '2.0',
    id: n,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text } },
  });
  return text;
};

/** A throwaway PostgreSQL database and audit key file for one suite (its before/after hooks registered). */
export function suiteDatabase(name: string): { readonly url: string; readonly keyFile: string } {
  const db = { url: '', keyFile: '' };
  let server: TempPostgres | undefined;
  before(async () => {
    server = await startPostgres();
    db.url = server.createDatabase(name);
    db.keyFile = join(mkdtempSync(join(tmpdir(), `ig-${name}-`)), 'audit.key');
  });
  after(() => server?.stop());
  return db;
}
