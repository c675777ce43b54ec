import type { Decision } from '../model/decision.js';
import { createMonitor, type Monitor } from '../monitor/create.js';
import type { AnyPolicy } from '../model/policy.js';
import type { Visibility } from '../visibility/visibility.js';
import { openStore, type Store } from '../store/db.js';
import { recordedBundle, recordedSessions } from '../store/queries.js';
import {
  bundleOfRecorded,
  parseBundleLine,
  replayedEvent,
  type RecordedSession,
  type SessionBundle,
} from '../store/bundle.js';
import { createReplayClock, replayBundle, type ReplayResult } from './replay.js';

/**
 * One unit of replay work: a bundle-file line, a session already read from a database, or a session
 * to read from a database file by id (what workers get: a few bytes to post, and each worker reads
 * its own sessions through its own read-only connection).
 */
export type ReplayJob =
  | { readonly kind: 'line'; readonly line: string; readonly lineNo: number }
  | { readonly kind: 'recorded'; readonly session: RecordedSession; readonly diff: boolean }
  | { readonly kind: 'stored'; readonly db: string; readonly session: string; readonly diff: boolean };

/** What a job produced. */
export type JobOutcome =
  | { readonly kind: 'result'; readonly result: ReplayResult; readonly diff?: readonly DiffLine[] }
  | { readonly kind: 'error'; readonly lineNo: number; readonly code: string; readonly message: string };

/** One decision a replay with the current rules would make differently from the recorded one. */
interface DiffLine {
  readonly session: string;
  readonly call: number | null;
  readonly tool: string | null;
  readonly method: string | null;
  readonly before: string;
  readonly after: string;
  readonly rules: readonly string[];
  readonly reason: string;
}

export interface Replayer {
  run(job: ReplayJob): Promise<JobOutcome>;
  close(): void;
}

/** Recorded and replayed events are matched by direction, kind and id (or method): seq numbers differ. */
const eventKey = (dir: string, raw: unknown, kind: string) => {
  const id = (raw as { id?: unknown } | null)?.id;
  return `${dir}|${kind}|${id === undefined ? ((raw as { method?: string } | null)?.method ?? '') : JSON.stringify(id)}`;
};

/**
 * Replays jobs one at a time through one monitor (sessions are independent; a fresh session per job).
 * The same code runs in-thread and in each worker of a {@link createReplayPool}, so both give the same
 * results.
 */
export function createReplayer(
  policies: readonly AnyPolicy[],
  options: { readonly visibility?: Visibility | undefined } = {},
): Replayer {
  const clock = createReplayClock();
  const monitor: Monitor = createMonitor({
    policy: [...policies],
    clock: clock.now,
    ...(options.visibility && { visibility: options.visibility }),
  });
  const keyBySeq = new Map<number, string>();
  const decisions: Decision[] = [];
  let watching = false;
  const watch = () => {
    // Only diffs need every event and decision; a plain replay leaves the streams unobserved (cheaper).
    if (watching) return;
    watching = true;
    monitor.events$.subscribe((e) => keyBySeq.set(e.seq, eventKey(e.dir, e.raw, e.kind)));
    monitor.decisions$.subscribe((d) => decisions.push(d));
  };

  /** Replay a recorded session under a distinct id (the recorded one may still be open in this process). */
  const replayOne = async (bundle: SessionBundle): Promise<JobOutcome> => {
    const result = await replayBundle(monitor, { ...bundle, id: `${bundle.id}#replay` }, { clock });
    return { kind: 'result', result: { ...result, id: bundle.id } };
  };

  const runRecorded = async (r: RecordedSession, diff: boolean): Promise<JobOutcome> => {
    const bundle = bundleOfRecorded(r);
    if (!diff) return replayOne(bundle);
    watch();
    const before = new Map<string, { action: string; call: number | null; tool: string | null }>();
    // The bundle's events are the recorded ones without intentguard's own, in order: their messages are already parsed.
    let k = 0;
    for (const e of r.events) {
      if (!replayedEvent(e)) continue;
      const { msg } = bundle.events[k++]!;
      if (!e.synthetic)
        before.set(eventKey(e.dir, msg, e.kind), {
          action: e.action,
          call: e.call,
          tool: e.tool,
        });
    }
    keyBySeq.clear();
    decisions.length = 0;
    const result = await replayBundle(monitor, { ...bundle, id: `${bundle.id}#replay` }, { clock });
    const lines: DiffLine[] = [];
    for (const d of decisions) {
      if (d.kind === 'invalid') continue;
      const key = keyBySeq.get(d.seq);
      const was = key ? before.get(key) : undefined;
      const action = was?.action ?? 'allow';
      if (action === d.action) continue;
      lines.push({
        session: bundle.id,
        call: d.call ?? was?.call ?? null,
        tool: d.tool ?? was?.tool ?? null,
        method: d.method ?? null,
        before: action,
        after: d.action,
        rules: d.findings.filter((f) => f.action === d.action).map((f) => f.rule),
        reason: d.findings.map((f) => f.reason).join('; ') || 'no rule fires now',
      });
    }
    return { kind: 'result', result: { ...result, id: bundle.id }, diff: lines };
  };

  const stores = new Map<string, Store>();
  const runStored = (db: string, id: string, diff: boolean): Promise<JobOutcome> => {
    let store = stores.get(db);
    if (!store) {
      store = openStore(db, { readonly: true });
      stores.set(db, store);
    }
    const missing = {
      kind: 'error',
      lineNo: 0,
      code: 'ERR_SESSION_CLOSED',
      message: `session ${id} is not in ${db}`,
    } as const;
    if (!diff) {
      const bundle = recordedBundle(store, id);
      return bundle ? replayOne(bundle) : Promise.resolve(missing);
    }
    const [session] = recordedSessions(store, { session: id });
    return session ? runRecorded(session, diff) : Promise.resolve(missing);
  };

  /** A job that cannot be read back fails with its own code (the same on this thread and on workers). */
  const failed = (e: unknown, lineNo = 0): JobOutcome => {
    const err = e as { code?: string; message?: string };
    return {
      kind: 'error',
      lineNo,
      code: typeof err?.code === 'string' && err.code.startsWith('ERR_') ? err.code : 'ERR_REPLAY',
      message: err?.message ?? String(e),
    };
  };

  return {
    async run(job) {
      try {
        if (job.kind === 'recorded') return await runRecorded(job.session, job.diff);
        if (job.kind === 'stored') return await runStored(job.db, job.session, job.diff);
      } catch (e) {
        return failed(e);
      }
      let bundle;
      try {
        bundle = parseBundleLine(job.line);
      } catch (e) {
        const err = e as { code?: string; message: string };
        return {
          kind: 'error',
          lineNo: job.lineNo,
          code: err.code ?? 'ERR_BUNDLE_LINE',
          message: err.message,
        };
      }
      return { kind: 'result', result: await replayBundle(monitor, bundle, { clock }) };
    },
    close() {
      monitor.close();
      for (const store of stores.values()) store.close();
    },
  };
}
