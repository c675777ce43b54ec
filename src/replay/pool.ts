import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../lib/worker.js';
import { createReplayer, type JobOutcome, type ReplayJob } from './jobs.js';
import { replayPolicies, type ReplayPolicyOptions } from './policies.js';

export interface ReplayPool {
  /** Replay one job; outcomes of different jobs may settle out of order. */
  run(job: ReplayJob): Promise<JobOutcome>;
  close(): Promise<void>;
}

interface Lane {
  readonly worker: Worker;
  readonly waiting: Map<number, { resolve(o: JobOutcome): void; reject(e: Error): void }>;
  /** Jobs not yet posted: sent together once this turn of the event loop is over (one message, not one per job). */
  outbox: { id: number; job: ReplayJob }[];
  dead?: Error;
}

/** Below this many sessions, starting workers (each loads the rules and warms up) costs more than it saves. */
export const AUTO_JOBS_THRESHOLD = 200;

/**
 * How many worker threads to replay on: a number as given, or `auto`: one per core once there are at
 * least {@link AUTO_JOBS_THRESHOLD} sessions (`units`), else this thread alone.
 */
export function resolveJobs(jobs: number | 'auto' | undefined, units: number): number {
  if (typeof jobs === 'number') return jobs;
  return units >= AUTO_JOBS_THRESHOLD ? Math.max(1, availableParallelism()) : 1;
}

/**
 * Replay on `jobs` worker threads (sessions are independent), each with its own monitor and policies
 * built from the same options; a job goes to the least busy worker. With `jobs` 1 everything runs on
 * this thread through the same {@link createReplayer}. A worker that dies fails its jobs (never a
 * silent gap in the output).
 */
export function createReplayPool(o: ReplayPolicyOptions & { readonly jobs: number }): ReplayPool {
  if (o.jobs <= 1) {
    const replayer = createReplayer(replayPolicies(o), { visibility: o.visibility });
    let chain: Promise<unknown> = Promise.resolve();
    return {
      run(job) {
        const next = chain.then(() => replayer.run(job));
        chain = next.catch(() => undefined);
        return next;
      },
      async close() {
        await chain;
        replayer.close();
      },
    };
  }
  let nextId = 0;
  const lanes: Lane[] = Array.from({ length: o.jobs }, () => {
    const lane: Lane = {
      worker: startWorker(import.meta.url, 'worker', {
        rules: [...o.rules],
        pack: o.pack,
        ...(o.visibility && { visibility: o.visibility }),
      }),
      waiting: new Map(),
      outbox: [],
    };
    // Outcomes come back in batches too (see worker.ts).
    lane.worker.on('message', (m: { outs: { id: number; out: JobOutcome }[] }) => {
      for (const { id, out } of m.outs) {
        lane.waiting.get(id)?.resolve(out);
        lane.waiting.delete(id);
      }
    });
    const fail = (e: Error) => {
      lane.dead ??= e;
      for (const w of lane.waiting.values()) w.reject(lane.dead);
      lane.waiting.clear();
    };
    lane.worker.on('error', (e) => fail(new Error(`replay worker failed: ${e.message}`)));
    lane.worker.on('exit', (code) => fail(new Error(`replay worker exited (${code})`)));
    return lane;
  });
  return {
    run(job) {
      const live = lanes.filter((l) => !l.dead);
      if (live.length === 0) return Promise.reject(lanes[0]!.dead!);
      const lane = live.reduce((a, b) => (b.waiting.size < a.waiting.size ? b : a));
      const id = nextId++;
      return new Promise<JobOutcome>((resolve, reject) => {
        lane.waiting.set(id, { resolve, reject });
        if (lane.outbox.push({ id, job }) === 1) {
          setImmediate(() => {
            const jobs = lane.outbox;
            lane.outbox = [];
            if (!lane.dead) lane.worker.postMessage({ jobs });
          });
        }
      });
    },
    async close() {
      await Promise.all(
        lanes.map(
          (l) =>
            new Promise<void>((resolve) => {
              if (l.dead) return resolve();
              l.worker.once('exit', () => resolve());
              l.worker.postMessage({ close: true });
            }),
        ),
      );
    },
  };
}

/**
 * Run jobs through a pool and hand their outcomes to `emit` in input order, keeping at most `window`
 * jobs in flight (bounded memory however large the input).
 */
export async function replayInOrder(
  pool: ReplayPool,
  jobs: AsyncIterable<ReplayJob> | Iterable<ReplayJob>,
  emit: (out: JobOutcome) => void,
  window = 64,
): Promise<void> {
  const inFlight: Promise<JobOutcome>[] = [];
  for await (const job of jobs) {
    const p = pool.run(job);
    p.catch(() => undefined); // settled in order below; a failure surfaces there, not as an unhandled rejection
    inFlight.push(p);
    if (inFlight.length >= window) emit(await inFlight.shift()!);
  }
  while (inFlight.length > 0) emit(await inFlight.shift()!);
}
