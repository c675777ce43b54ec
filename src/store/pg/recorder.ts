import { IntentGuardError } from '../../errors.js';
import type { Monitor } from '../../monitor/create.js';
import { recordInto, type Committed, type Failed, type Recorder, type Sink } from '../recorder.js';
import type { Rows } from '../rows.js';
import { pgError } from './pool.js';
import type { PgStore } from './store.js';
import { createPgWriter, type PgFence, type PgWriter } from './writer.js';

export interface PgRecorderOptions {
  readonly maxBatch?: number;
  readonly flushDelayMs?: number;
  /** After a failure, retry every this many ms (default 1000). */
  readonly retryMs?: number;
  /**
   * Most records kept while the store cannot be written (default 65536): the backlog is bounded. Past
   * it new records are dropped and counted (the recorder stays unhealthy, so in enforce mode every call
   * is already being denied); what was kept is written when the store is back.
   */
  readonly maxBacklog?: number;
  /** A fleet instance's fencing tokens, once it has them (src/store/pg/writer.ts, {@link PgFence}). */
  readonly fence?: () => PgFence | undefined;
}

/** A PostgreSQL recorder, and how many records a fleet's fence refused so far. */
export interface PgRecorder extends Recorder {
  readonly fenced: number;
}

/**
 * Record a monitor's sessions into PostgreSQL: the recorder's front (src/store/recorder.ts) serializes
 * on the traffic path, and this sink writes batches with async queries — one transaction at a time, in
 * order, never blocking the event loop. A failed batch is kept (with what queues behind it) and retried
 * every `retryMs`; meanwhile the recorder is unhealthy and the recording guard fails calls closed.
 * @example const recorder = createPgRecorder(await openPgStore(url), monitor)
 */
export function createPgRecorder(
  store: PgStore,
  monitor: Monitor,
  options: PgRecorderOptions = {},
): PgRecorder {
  const writer = createPgWriter(store, options.fence);
  const recorder = recordInto(
    monitor,
    'async',
    (committed, failed, isClosed) =>
      pgSink(
        store,
        writer,
        options.retryMs ?? 1000,
        options.maxBacklog ?? 65_536,
        committed,
        failed,
        isClosed,
      ),
    options,
  );
  return Object.defineProperty(recorder, 'fenced', { get: () => writer.fenced }) as PgRecorder;
}

function pgSink(
  store: PgStore,
  writer: PgWriter,
  retryMs: number,
  maxBacklog: number,
  committed: Committed,
  failed: Failed,
  isClosed: () => boolean,
): Sink {
  let backlog: Rows[] = [];
  let records = 0;
  let flushes: number[] = [];
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closing = false;

  /** Write what is queued; false when a transaction failed (its rows kept, a retry scheduled unless closing). */
  const attempt = async (): Promise<boolean> => {
    while (backlog.length > 0 || flushes.length > 0) {
      const batches = backlog;
      const n = records;
      const waiting = flushes;
      backlog = [];
      records = 0;
      flushes = [];
      try {
        const tally = await writer.commit(batches);
        committed(tally, n, waiting);
      } catch (e) {
        // Kept, in order, ahead of what queued meanwhile; the flushes waiting on it learn it failed.
        backlog = [...batches, ...backlog];
        records += n;
        failed(pgError(e, store.display), waiting);
        if (!isClosed() && !closing) retry = setTimeout(kick, retryMs);
        return false;
      }
    }
    return true;
  };
  const kick = () => {
    retry = undefined;
    if (writing) return;
    writing = attempt().then((ok) => {
      writing = undefined;
      // Rows queued while that transaction ran go in the next one. After a failure only the retry
      // (or an explicit flush) tries again: closing, a store that fails at once must not spin.
      if (ok && !retry && (backlog.length > 0 || flushes.length > 0)) kick();
    });
  };

  return {
    send(rows, n, flush) {
      if (records + n > maxBacklog) {
        dropped += n;
        failed(
          new IntentGuardError(
            'ERR_RECORD_FAILED',
            `${store.display}: the store is unreachable and ${records} records wait for it; ${dropped} records dropped (backlog limit ${maxBacklog})`,
          ),
          flush === undefined ? [] : [flush],
        );
        return;
      }
      if (rows.length > 0) backlog.push(rows);
      records += n;
      if (flush !== undefined) flushes.push(flush);
      // While a retry is scheduled the store is down: rows wait for it; an explicit flush tries at once.
      if (retry && flush !== undefined) {
        clearTimeout(retry);
        retry = undefined;
      }
      if (!retry) kick();
    },
    async close() {
      closing = true;
      if (retry) clearTimeout(retry);
      retry = undefined;
      await writing;
    },
  };
}
