// The recording worker: owns its own connection to the database and the HMAC chains, and commits the
// rows the recorder posts in batched transactions, off the thread that carries the traffic.
import { parentPort, workerData } from 'node:worker_threads';
import { IntentGuardError } from '../errors.js';
import { openStore, storeError } from './db.js';
import { countRecords, type Rows } from './rows.js';
import { createWriter, type Tally } from './writer.js';

/** Recorder → worker. */
export type ToWriter = { readonly rows: Rows; readonly flush?: number } | { readonly close: true };

/** Worker → recorder: a commit (with the flushes it settles) or a failure. */
export type FromWriter =
  | { readonly ok: true; readonly tally: Tally; readonly rows: number; readonly flushes: number[] }
  | {
      readonly ok: false;
      readonly error: { code: string; message: string; data?: Record<string, unknown> };
      readonly flushes: number[];
    };

export interface WriterData {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly durability: 'normal' | 'full';
  readonly retryMs: number;
  /** Shared with the recorder: [0] rows committed (wrapping int32), [1] 1 while writes fail. */
  readonly progress: SharedArrayBuffer;
}

const port = parentPort!;
const data = workerData as WriterData;
const store = openStore(data.path, { busyTimeoutMs: data.busyTimeoutMs, durability: data.durability });
const writer = createWriter(store);
const progress = new Int32Array(data.progress);

// Batches not yet committed, in arrival order (a failed commit keeps them and is retried).
let backlog: Rows[] = [];
let backlogRecords = 0;
let flushes: number[] = [];
let scheduled: NodeJS.Immediate | undefined;
let retry: NodeJS.Timeout | undefined;

const commit = (): void => {
  scheduled = undefined;
  retry = undefined;
  if (backlog.length === 0 && flushes.length === 0) return;
  const batches = backlog;
  const settled = flushes;
  try {
    const tally = writer.commit(batches);
    const records = backlogRecords;
    backlog = [];
    backlogRecords = 0;
    flushes = [];
    Atomics.add(progress, 0, records);
    Atomics.store(progress, 1, 0);
    Atomics.notify(progress, 0);
    port.postMessage({ ok: true, tally, rows: records, flushes: settled } satisfies FromWriter);
  } catch (e) {
    const err = e instanceof IntentGuardError ? e : storeError(e, 'recording');
    flushes = [];
    Atomics.store(progress, 1, 1);
    Atomics.notify(progress, 0);
    port.postMessage({
      ok: false,
      error: { code: err.code, message: err.message, ...(err.data && { data: err.data }) },
      flushes: settled,
    } satisfies FromWriter);
    retry = setTimeout(commit, data.retryMs);
  }
};

port.on('message', (m: ToWriter) => {
  if ('close' in m) {
    const stop = () => {
      if (scheduled) clearImmediate(scheduled);
      if (retry) clearTimeout(retry);
    };
    stop();
    commit();
    stop(); // no retries after close: what failed was reported
    writer.close();
    store.close();
    port.close();
    return;
  }
  if (m.rows.length > 0) {
    backlog.push(m.rows);
    backlogRecords += countRecords(m.rows);
  }
  if (m.flush !== undefined) flushes.push(m.flush);
  // Batches that arrive together are committed together: one transaction per turn of the loop. While
  // a failed batch waits for its retry, new rows join it.
  if (!scheduled && !retry) scheduled = setImmediate(commit);
});
