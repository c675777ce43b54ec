import type { Observable, Subscription } from 'rxjs';
import { Subject } from '../lib/rx.js';
import { IntentGuardError, type ErrorCode } from '../errors.js';
import { startWorker } from '../lib/worker.js';
import type { Monitor } from '../monitor/create.js';
import type { SessionState } from '../model/session.js';
import { storeError, type Store } from './db.js';
import { pushAlert, pushDecision, pushEnd, pushEvent, pushSession, type Rows } from './rows.js';
import type { FromWriter, ToWriter, WriterData } from './writer-worker.js';
import { createWriter, type Tally } from './writer.js';

/** What one flush committed: everything before it is durable. */
export interface Commit {
  readonly events: number;
  readonly decisions: number;
  readonly alerts: number;
  /** Highest committed event seq per session in this batch. */
  readonly lastSeq: ReadonlyMap<string, number>;
}

export interface Recorder {
  /** False after a write failed, until a later commit succeeds. */
  readonly healthy: boolean;
  readonly lastError: Error | undefined;
  readonly commits$: Observable<Commit>;
  readonly errors$: Observable<Error>;
  /** Rows queued or in flight and not yet committed. */
  readonly pending: number;
  /** Where the writes run (`async`: a PostgreSQL store, written from this thread without blocking it). */
  readonly thread: 'worker' | 'inline' | 'async';
  /** Commit everything queued now. Resolves when it is durable; rejects with the store error. */
  flush(): Promise<Commit>;
  /** Flush and stop listening (the store stays open). */
  close(): Promise<void>;
}

export interface RecorderOptions {
  /** Hand rows to the writer at once when this many are queued (default 2048). */
  readonly maxBatch?: number;
  /**
   * Otherwise this long after the first queued row: one transaction per batch. Default 50 ms for a
   * database file (the worker thread and inline), 5 ms in memory. A transaction into a file costs about
   * the same however few rows it holds — the head anchor's lock file, its rewrite and rename: ≈ 0.5 ms
   * of CPU, ten times SQLite's own commit — so batching by time is what keeps recording's share of the
   * CPU small under steady traffic. `flush()` commits at once; a crash loses at most this window.
   */
  readonly flushDelayMs?: number;
  /** After a failure, retry every this many ms (default 1000). */
  readonly retryMs?: number;
  /**
   * `worker` (default for a database file): HMAC chaining and SQLite writes run on a worker thread with
   * its own connection, and the traffic thread only serializes. `inline`: on this thread (the only
   * choice for `:memory:`, whose database another connection cannot see).
   */
  readonly thread?: 'worker' | 'inline';
  /**
   * Most rows handed to the worker and not yet committed (default 16384). Beyond it the traffic thread
   * waits for the writer (back-pressure, bounded memory) rather than queueing without limit; while
   * writes fail it does not wait: the recorder is unhealthy and the guard denies calls instead.
   */
  readonly maxInFlight?: number;
}

/** Where encoded rows go: a worker thread, an inline writer, or another backend's writer. */
export interface Sink {
  /** Hand over a batch of `records` records. */
  send(rows: Rows, records: number, flush?: number): void;
  close(): Promise<void>;
}

/** How long rows wait to share a transaction into a database file (see RecorderOptions.flushDelayMs). */
const FILE_FLUSH_DELAY_MS = 50;

const EMPTY: Commit = Object.freeze({ events: 0, decisions: 0, alerts: 0, lastSeq: new Map() });

/**
 * Record a monitor's sessions into the store: sessions (identity, intent, transport, start, end,
 * outcome), every event with its raw message, every decision and alert, each event and decision
 * HMAC-chained to the previous one of its session. The stream subscriptions only serialize rows (cheap,
 * in order); chaining and batched transactions run off the per-message path, on a worker thread by default.
 * @example const recorder = createRecorder(openStore('intentguard.db'), monitor)
 */
export function createRecorder(store: Store, monitor: Monitor, options: RecorderOptions = {}): Recorder {
  const retryMs = options.retryMs ?? 1000;
  const thread = store.path === ':memory:' ? 'inline' : (options.thread ?? 'worker');
  return recordInto(
    monitor,
    thread,
    (committed, failed, isClosed) =>
      thread === 'worker'
        ? workerSink(store, retryMs, options.maxInFlight ?? 16_384, committed, failed)
        : inlineSink(store, retryMs, committed, failed, isClosed),
    { flushDelayMs: store.path === ':memory:' ? 5 : FILE_FLUSH_DELAY_MS, ...options },
  );
}

/**
 * The recorder's front, shared by every backend: serialize the monitor's streams into batches (cheap,
 * in order, on the traffic path) and hand them to the sink `makeSink` builds, which reports each
 * commit or failure back. A sink keeps a failed batch and retries it.
 */
export function recordInto(
  monitor: Monitor,
  thread: Recorder['thread'],
  makeSink: (committed: Committed, failed: Failed, isClosed: () => boolean) => Sink,
  options: Pick<RecorderOptions, 'maxBatch' | 'flushDelayMs'> = {},
): Recorder {
  const maxBatch = options.maxBatch ?? 2048;
  const flushDelayMs = options.flushDelayMs ?? 5;
  const commits$ = new Subject<Commit>();
  const errors$ = new Subject<Error>();
  let queue: Rows = [];
  let queued = 0;
  let inFlight = 0;
  let healthy = true;
  let lastError: Error | undefined;
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  let closed = false;
  let nextFlush = 0;
  const waiting = new Map<number, { resolve(c: Commit): void; reject(e: Error): void }>();

  const committed = (tally: Tally, rows: number, flushes: readonly number[]) => {
    inFlight -= rows;
    healthy = true;
    const commit: Commit = {
      events: tally.events,
      decisions: tally.decisions,
      alerts: tally.alerts,
      lastSeq: new Map(tally.lastSeq),
    };
    if (rows > 0) commits$.next(commit);
    for (const id of flushes) {
      waiting.get(id)?.resolve(commit);
      waiting.delete(id);
    }
  };
  const failed = (err: Error, flushes: readonly number[]) => {
    healthy = false;
    lastError = err;
    errors$.next(err);
    for (const id of flushes) {
      waiting.get(id)?.reject(err);
      waiting.delete(id);
    }
  };

  const sink = makeSink(committed, failed, () => closed);

  const dispatch = (flush?: number) => {
    if (scheduled) {
      // Each with its own clear: clearImmediate on a Timeout corrupts Node's count of live immediates.
      if (flushDelayMs > 0) clearTimeout(scheduled as NodeJS.Timeout);
      else clearImmediate(scheduled as NodeJS.Immediate);
      scheduled = undefined;
    }
    if (queued === 0 && flush === undefined) return;
    const rows = queue;
    const records = queued;
    queue = [];
    queued = 0;
    inFlight += records;
    sink.send(rows, records, flush);
  };

  const enqueue = <T>(push: (out: Rows, value: T) => void, value: T) => {
    const before = queue.length;
    push(queue, value);
    if (queue.length === before) return;
    if (++queued >= maxBatch) dispatch();
    else if (!scheduled)
      scheduled = flushDelayMs > 0 ? setTimeout(dispatch, flushDelayMs) : setImmediate(dispatch);
  };

  let endsDue: SessionState[] = [];
  const drainEnds = () => {
    const ends = endsDue;
    endsDue = [];
    for (const s of ends) enqueue(pushEnd, s);
  };

  const subs: Subscription[] = [
    monitor.sessionOpened$.subscribe((s) => enqueue(pushSession, s)),
    monitor.events$.subscribe((e) => enqueue(pushEvent, e)),
    monitor.decisions$.subscribe((d) => enqueue(pushDecision, d)),
    monitor.alerts$.subscribe((a) => enqueue(pushAlert, a)),
    // A session's seal waits for the end of the current turn: what other subscribers report as the session
    // ends (the grant gate's `identity/grant-revoked`, a one-task grant's end) belongs to it and must be
    // recorded before the seal that counts its alerts.
    monitor.sessionEnded$.subscribe((s) => {
      if (endsDue.push(s) === 1) queueMicrotask(drainEnds);
    }),
  ];
  for (const s of monitor.sessions()) enqueue(pushSession, s);

  const flush = (): Promise<Commit> => {
    if (closed) return Promise.resolve(EMPTY);
    drainEnds();
    const id = nextFlush++;
    const done = new Promise<Commit>((resolve, reject) => waiting.set(id, { resolve, reject }));
    dispatch(id);
    return done;
  };

  return {
    get healthy() {
      return healthy;
    },
    get lastError() {
      return lastError;
    },
    get pending() {
      return queued + inFlight;
    },
    thread,
    commits$: commits$.asObservable(),
    errors$: errors$.asObservable(),
    flush,
    async close() {
      for (const s of subs) s.unsubscribe();
      try {
        await flush();
      } finally {
        closed = true;
        await sink.close();
        commits$.complete();
        errors$.complete();
      }
    },
  };
}

/** A sink's report: `rows` records committed (and the flushes they complete). */
export type Committed = (tally: Tally, rows: number, flushes: readonly number[]) => void;
/** A sink's report: a write failed (the flushes waiting on it are rejected; the rows are kept). */
export type Failed = (err: Error, flushes: readonly number[]) => void;

/** Writes on this thread, one transaction per batch; a failed batch is kept and retried. */
function inlineSink(
  store: Store,
  retryMs: number,
  committed: Committed,
  failed: Failed,
  isClosed: () => boolean,
): Sink {
  const writer = createWriter(store);
  let backlog: Rows[] = [];
  let records = 0;
  let retry: NodeJS.Timeout | undefined;
  const attempt = (flushes: number[]) => {
    retry = undefined;
    try {
      const tally = writer.commit(backlog);
      const n = records;
      backlog = [];
      records = 0;
      committed(tally, n, flushes);
    } catch (e) {
      failed(storeError(e, 'recording'), flushes);
      if (!isClosed()) retry = setTimeout(() => attempt([]), retryMs);
    }
  };
  return {
    send(rows, n, flush) {
      if (rows.length > 0) backlog.push(rows);
      records += n;
      if (retry) clearTimeout(retry);
      attempt(flush === undefined ? [] : [flush]);
    },
    async close() {
      if (retry) clearTimeout(retry);
      writer.close();
    },
  };
}

/** Writes on a worker thread with its own connection (WAL lets both connections work at once). */
function workerSink(
  store: Store,
  retryMs: number,
  maxInFlight: number,
  committed: Committed,
  failed: Failed,
): Sink {
  const progress = new Int32Array(new SharedArrayBuffer(8));
  const data: WriterData = {
    path: store.path,
    busyTimeoutMs: store.busyTimeoutMs,
    durability: store.durability,
    retryMs,
    progress: progress.buffer as SharedArrayBuffer,
  };
  const worker = startWorker(import.meta.url, 'writer-worker', data);
  let posted = 0;
  /** Wait (blocking this thread) until the writer is at most half the limit behind, it fails, or 10 s pass. */
  const keepUp = () => {
    const deadline = Date.now() + 10_000 + store.busyTimeoutMs;
    for (;;) {
      const done = Atomics.load(progress, 0);
      if (((posted - done) | 0) <= maxInFlight / 2 || Atomics.load(progress, 1) === 1 || exited) return;
      if (Date.now() > deadline) {
        failed(
          new IntentGuardError(
            'ERR_STORE',
            `recording is ${(posted - done) | 0} rows behind and not catching up`,
          ),
          [],
        );
        return;
      }
      Atomics.wait(progress, 0, done, 100);
    }
  };
  let exited = false;
  let closing = false;
  // Keep the process alive while rows, or flushes someone awaits, are on their way to the disk, not
  // longer. A flush can carry no rows and be answered by a later message than the rows before it: counting
  // rows alone let the process exit between the two, with the flush (and `close()`) never settled.
  let outstanding = 0;
  let flushing = 0;
  worker.on('message', (m: FromWriter) => {
    if (m.ok) outstanding -= m.rows;
    flushing -= m.flushes.length;
    if (outstanding === 0 && flushing === 0 && !closing) worker.unref();
    if (m.ok) committed(m.tally, m.rows, m.flushes);
    else failed(new IntentGuardError(m.error.code as ErrorCode, m.error.message, m.error.data), m.flushes);
  });
  const gone = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  worker.on('error', (e) =>
    failed(new IntentGuardError('ERR_STORE', `recording worker failed: ${e.message}`), []),
  );
  // A worker that dies leaves the recorder unhealthy: the guard then denies calls (fail closed).
  void gone.then(() => {
    if (!closing) failed(new IntentGuardError('ERR_STORE', 'recording worker exited'), []);
  });
  worker.unref();
  return {
    send(rows, records, flush) {
      if (exited) {
        failed(
          new IntentGuardError('ERR_STORE', 'recording worker exited'),
          flush === undefined ? [] : [flush],
        );
        return;
      }
      if (outstanding === 0 && flushing === 0) worker.ref();
      outstanding += records;
      if (flush !== undefined) flushing++;
      worker.postMessage({ rows, ...(flush !== undefined && { flush }) } satisfies ToWriter);
      posted = (posted + records) | 0;
      if (((posted - Atomics.load(progress, 0)) | 0) > maxInFlight && Atomics.load(progress, 1) === 0)
        keepUp();
    },
    async close() {
      closing = true;
      worker.ref();
      if (!exited) worker.postMessage({ close: true } satisfies ToWriter);
      await gone;
    },
  };
}
