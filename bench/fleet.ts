// Fleet benchmarks (`npm run bench -- fleet`), on a throwaway PostgreSQL started here: the recorder's
// events/s into PostgreSQL against a bare batched insert of the same rows (the floor), and revocation
// propagation — revoked through one instance's store connection, seen by another's local set via
// NOTIFY; and `intentguard http` instances behind a round-robin balancer (bench/fleet-proxies.ts).
// Figures are measured side by side in this run; nothing asserts a time.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import type { Monitor, SessionEvent, SessionState } from '../src/index.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { fmt, internal, percentile, printTable } from './lib.js';
import { syntheticEvents } from './synthetic.js';
import { fleetProxies } from './fleet-proxies.js';

const { openPgStore } = await internal<typeof import('../src/store/pg/store.js')>('store/pg/store');
const { createPgRecorder } =
  await internal<typeof import('../src/store/pg/recorder.js')>('store/pg/recorder');
const { pgRevocations } = await internal<typeof import('../src/fleet/revocations.js')>('fleet/revocations');

type Store = Awaited<ReturnType<typeof openPgStore>>;

async function recorderRate(store: Store, n: number): Promise<number> {
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
  const recorder = createPgRecorder(store, fake);
  const { state, events } = syntheticEvents(n, `rec-${n}-${Math.random()}`);
  const t0 = process.hrtime.bigint();
  opened$.next(state);
  for (const e of events) events$.next(e);
  await recorder.flush();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await recorder.close();
  return n / s;
}

/** The floor: the same rows, prepared beforehand, one multi-row (unnest) INSERT per 2048, no chaining. */
async function floorRate(store: Store, n: number): Promise<number> {
  const { events } = syntheticEvents(n, `floor-${Math.random()}`);
  const h = 'a'.repeat(64);
  const sql = `INSERT INTO events (session_id, seq, time, dir, kind, method, tool, call, msg_id, bytes, synthetic, raw, hash, prev_hash)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[], $11::integer[], $12::text[], $13::text[], $14::text[])`;
  const batches: unknown[][][] = [];
  for (let i = 0; i < n; i += 2048) {
    const cols: unknown[][] = Array.from({ length: 14 }, () => []);
    for (const e of events.slice(i, i + 2048)) {
      const row = [
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
      ];
      row.forEach((v, k) => cols[k]!.push(v));
    }
    batches.push(cols);
  }
  const t0 = process.hrtime.bigint();
  for (const cols of batches) await store.pg.pool.query(sql, cols);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / s;
}

async function propagation(a: Store, b: Store, n: number): Promise<number[]> {
  const ra = await pgRevocations(a);
  const rb = await pgRevocations(b);
  const ms: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const jti = `bench-${i}-${Math.random()}`;
      const t0 = process.hrtime.bigint();
      await ra.revokeShared({ jti }, 'bench');
      while (!rb.isRevoked(jti, '', Date.now())) await new Promise((r) => setImmediate(r));
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await ra.close();
    await rb.close();
  }
  return ms.sort((x, y) => x - y);
}

export async function benchFleet(): Promise<void> {
  const server = await startPostgres();
  try {
    const url = server.createDatabase('bench_fleet');
    const keyFile = join(mkdtempSync(join(tmpdir(), 'ig-bench-fleet-')), 'audit.key');
    const a = await openPgStore(url, { keyFile });
    const b = await openPgStore(url, { keyFile });
    try {
      const n = 20_000;
      await recorderRate(a, 2000); // warm-up: connections, JIT
      await floorRate(a, 2000);
      const rec = await recorderRate(a, n);
      const floor = await floorRate(a, n);
      printTable(`PostgreSQL recording, ${n} events (one session), this run`, [
        { what: 'recorder (chained, batched, off the traffic path)', 'events/s': fmt(rec) },
        { what: 'floor: bare batched unnest INSERT of the same rows', 'events/s': fmt(floor) },
        { what: 'recorder / floor', 'events/s': `${(rec / floor).toFixed(2)}x (target >= 0.5x)` },
      ]);
      const ms = await propagation(a, b, 200);
      printTable(
        'revocation propagation: revoked via instance A, seen in B’s local set (NOTIFY), 200 revocations',
        [
          {
            p50: `${percentile(ms, 50).toFixed(2)} ms`,
            p99: `${percentile(ms, 99).toFixed(2)} ms`,
            max: `${ms.at(-1)!.toFixed(2)} ms`,
            target: 'p99 <= 1000 ms',
          },
        ],
      );
    } finally {
      await a.close();
      await b.close();
    }
    const rows = await fleetProxies((name) => server.createDatabase(name));
    printTable(
      'stateless sessions through a round-robin TCP balancer (a new connection per call), this run',
      rows,
    );
    const [sqlite, one] = rows;
    if (sqlite && one)
      printTable('per-call cost of the shared store (one instance: PostgreSQL p50 - SQLite p50)', [
        {
          'p50 delta': `${(Number(one['p50 ms']) - Number(sqlite['p50 ms'])).toFixed(2)} ms`,
          target: '<= +1 ms',
        },
      ]);
  } finally {
    server.stop();
  }
}
