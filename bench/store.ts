// Recording benchmarks, side by side in one run: the recorder against a bare better-sqlite3 insert
// loop (the floor), replay throughput from the database with the shipped rules, and tap throughput
// with and without recording.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Subject } from 'rxjs';
import { z } from 'zod';
import { availableParallelism } from 'node:os';
import type { Monitor, SessionEvent, SessionState } from '../src/index.js';
import type { ReplayJob } from '../src/replay/jobs.js';
import { fmt, internal, printTable } from './lib.js';
import { syntheticEvents } from './synthetic.js';

// Measure the code that runs in production: the compiled dist/ (built by `npm ci`), else the sources.
type Lib = typeof import('../src/index.js');
const distUrl = new URL('../dist/index.js', import.meta.url);
const built = existsSync(distUrl);
const { replayInOrder } = await internal<typeof import('../src/replay/pool.js')>('replay/pool');
const {
  createMonitor,
  parseIntent,
  tap,
  loadRulePack,
  packPolicies,
  openStore,
  createRecorder,
  createReplayPool,
}: Lib = built ? ((await import(distUrl.href)) as Lib) : await import('../src/index.js');

const intent = parseIntent({ purpose: 'bench', tools: ['echo'] });

async function recorderRate(dir: string, n: number): Promise<number> {
  const store = openStore(join(dir, 'rec.db'));
  const opened$ = new Subject<SessionState>();
  const events$ = new Subject<SessionEvent>();
  const fake = {
    sessionOpened$: opened$,
    events$,
    decisions$: new Subject(),
    alerts$: new Subject(),
    sessionEnded$: new Subject(),
    sessions: () => [],
  } as unknown as Monitor;
  const recorder = createRecorder(store, fake);
  const { state, events } = syntheticEvents(n);
  await recorder.flush(); // the writer thread is up
  const t0 = process.hrtime.bigint();
  opened$.next(state);
  for (const e of events) events$.next(e);
  await recorder.flush();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await recorder.close();
  store.close();
  return n / s;
}

/** The floor: the same rows (same columns, same raw JSON and 64-hex hash sizes), prepared beforehand, inserted in batches. */
function floorRate(dir: string, n: number): number {
  const store = openStore(join(dir, 'floor.db'));
  const ins = store.db
    .prepare(`INSERT INTO events (session_id, seq, time, dir, kind, method, tool, call, msg_id, bytes, synthetic, raw, hash, prev_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const { events } = syntheticEvents(n);
  const h = 'a'.repeat(64);
  const rows = events.map((e) => [
    e.session,
    e.seq,
    e.time,
    e.dir,
    e.kind,
    e.method ?? null,
    e.tool ?? null,
    e.call ?? null,
    String(e.id),
    e.bytes,
    0,
    JSON.stringify(e.raw),
    h,
    h,
  ]);
  const batch = store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) ins.run(rows[i]!);
  });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += 2048) batch(i, Math.min(n, i + 2048));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  store.close();
  return n / s;
}

async function replayRates(
  dir: string,
): Promise<{ events: number; sessions: number; inThread: number; workers: number; jobs: number }> {
  // Record realistic sessions through the pack, then replay them all from the database with the
  // shipped pack: on this thread, and on worker threads (one per core). Each is warmed up first
  // (steady-state throughput, not JIT warm-up or worker start-up); the in-thread run goes first, so
  // it does not inherit the workers' warm-up, but it does inherit the recording's.
  const store = openStore(join(dir, 'replay.db'));
  const monitor = createMonitor({ policy: packPolicies(loadRulePack()) });
  const recorder = createRecorder(store, monitor);
  const sessions = Number(process.env.BENCH_REPLAY_SESSIONS ?? 1500);
  for (let s = 0; s < sessions; s++) {
    const h = monitor.open({
      intent: parseIntent({
        purpose: 'Summarise the notes and mail them to team@corp.example.com',
        tools: ['read_notes', 'send_email'],
      }),
      lifecycle: false,
    });
    for (let i = 0; i < 10; i++) {
      const tool = i % 2 ? 'send_email' : 'read_notes';
      await h.observe('c2s', {
        jsonrpc: '2.0',
        id: i,
        method: 'tools/call',
        params: {
          name: tool,
          arguments:
            tool === 'send_email'
              ? { to: 'team@corp.example.com', body: `notes ${i}` }
              : { path: `n${i}.md` },
        },
      });
      await h.observe('s2c', {
        jsonrpc: '2.0',
        id: i,
        result: { content: [{ type: 'text', text: `Notes ${i}: the beta ships on Friday.` }] },
      });
    }
    h.close();
  }
  await recorder.close();
  monitor.close();
  // As `intentguard replay DB --jobs N` does: each job names a session; the replayer reads it itself.
  const ids = store.db.prepare('SELECT id FROM sessions ORDER BY rowid').pluck().all() as string[];
  const jobsOf = function* (passes: number): Generator<ReplayJob> {
    for (let p = 0; p < passes; p++)
      for (const session of ids) yield { kind: 'stored', db: join(dir, 'replay.db'), session, diff: false };
  };
  const rate = async (jobs: number) => {
    const pool = createReplayPool({ jobs, rules: [], pack: true });
    // Warm-up: two whole passes (V8 needs thousands of sessions to optimise the pack in each worker),
    // then two timed passes: the rate a long replay settles at.
    await replayInOrder(pool, jobsOf(2), () => undefined);
    let events = 0;
    const t0 = process.hrtime.bigint();
    await replayInOrder(pool, jobsOf(2), (o) => {
      if (o.kind === 'result') events += o.result.events;
    });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    await pool.close();
    return { events, perSec: events / s };
  };
  const one = await rate(1);
  const jobs = Math.max(2, availableParallelism());
  const many = await rate(jobs);
  store.close();
  return { events: one.events, sessions, inThread: one.perSec, workers: many.perSec, jobs };
}

async function tapRates(dir: string, calls: number): Promise<{ plain: number; recorded: number }> {
  const make = async (record: boolean) => {
    const server = new McpServer({ name: 'bench', version: '1' });
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    const [c, s] = InMemoryTransport.createLinkedPair();
    await server.connect(s);
    const monitor = createMonitor();
    const store = record ? openStore(join(dir, 'tap.db')) : undefined;
    const recorder = store ? createRecorder(store, monitor) : undefined;
    const client = new Client({ name: 'b', version: '1' });
    await client.connect(tap(c, monitor, { side: 'client', intent }));
    return {
      client,
      close: async () => {
        await client.close();
        await recorder?.close();
        monitor.close();
        store?.close();
      },
    };
  };
  const plain = await make(false),
    rec = await make(true);
  const run = async (client: Client, n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    return Number(process.hrtime.bigint() - t0);
  };
  await run(plain.client, 1000);
  await run(rec.client, 1000);
  let a = 0,
    b = 0;
  for (let r = 0; r < 10; r++) {
    a += await run(plain.client, calls / 10);
    b += await run(rec.client, calls / 10);
  }
  await plain.close();
  await rec.close();
  return { plain: calls / (a / 1e9), recorded: calls / (b / 1e9) };
}

export async function benchStore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-store-'));
  try {
    const n = Number(process.env.BENCH_RECORD_EVENTS ?? 100_000);
    const floor = floorRate(dir, n);
    const rec = await recorderRate(dir, n);
    const replay = await replayRates(dir);
    const tapR = await tapRates(dir, Number(process.env.BENCH_CALLS ?? 20_000));
    printTable(
      `recording (${built ? 'compiled dist/' : 'sources via tsx'}): ${n} events (targets: recorder >= 0.5x the bare insert floor and >= 50,000 events/s; replay >= 100,000 events/s; tap with recording >= 0.85x)`,
      [
        {
          measure: 'bare better-sqlite3 insert loop, batched (floor)',
          value: `${fmt(floor, 0)} events/s`,
          ratio: '1.00x',
        },
        {
          measure: 'recorder: serialize + HMAC chain + batched insert',
          value: `${fmt(rec, 0)} events/s`,
          ratio: `${(rec / floor).toFixed(2)}x`,
        },
        {
          measure: `replay from the database, shipped pack, this thread (${replay.sessions} sessions; ${replay.events} events timed after a warm-up)`,
          value: `${fmt(replay.inThread, 0)} events/s`,
          ratio: '',
        },
        {
          measure: `replay from the database, shipped pack, --jobs auto (the CLI default: ${replay.jobs} worker threads here)`,
          value: `${fmt(replay.workers, 0)} events/s`,
          ratio: `${(replay.workers / replay.inThread).toFixed(2)}x`,
        },
        {
          measure: 'tap over InMemory, no recording',
          value: `${fmt(tapR.plain, 0)} calls/s`,
          ratio: '1.00x',
        },
        {
          measure: 'tap over InMemory, recording every event and decision',
          value: `${fmt(tapR.recorded, 0)} calls/s`,
          ratio: `${(tapR.recorded / tapR.plain).toFixed(2)}x`,
        },
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchStore();
