import type { Monitor } from '../monitor/create.js';
import { opposite, pendingKey } from '../monitor/state.js';
import type { PendingKey } from '../model/session.js';
import type { Decision } from '../model/decision.js';
import { ACTION_RANK, type Action } from '../model/policy.js';
import type { SessionBundle } from '../store/bundle.js';

export type { SessionBundle } from '../store/bundle.js';
export { readBundles } from '../store/bundle.js';

/** The per-session result of a replay: one JSON line per session with `--json`. */
export interface ReplayResult {
  readonly id: string;
  /** The strongest decision over the session. */
  readonly outcome: Action;
  /** 0-based index of the first `tools/call` that was re-authorized, denied or halted; null if none. */
  readonly stopped_at_call: number | null;
  readonly findings: readonly {
    readonly rule: string;
    readonly action: Action;
    readonly call: number | null;
    readonly reason: string;
  }[];
  /** Number of recorded events fed, and how many the replay skipped because live they could not have happened. */
  readonly events: number;
  readonly skipped: number;
}

/** A settable clock: give it to `createMonitor({ clock: c.now })` so replayed events keep their recorded times. */
export interface ReplayClock {
  now(): number;
  set(ms: number): void;
}

export function createReplayClock(start = Date.parse('2026-01-01T12:00:00Z')): ReplayClock {
  let t = start;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
  };
}

const STOPS = new Set<Action>(['reauthorize', 'deny', 'halt']);

/**
 * Feed one recorded session through the monitor exactly as the live tap would, and summarise what it
 * decided. Recorded answers to requests the monitor refused are skipped (live, they never happen);
 * after a halt nothing more is fed. Never reads `label` or `meta`.
 * @example for await (const b of readBundles('sessions.jsonl.gz')) console.log(await replayBundle(monitor, b));
 */
export async function replayBundle(
  monitor: Monitor,
  bundle: SessionBundle,
  options: { clock?: ReplayClock } = {},
): Promise<ReplayResult> {
  const start = options.clock?.now() ?? 0;
  options.clock?.set(start);
  const session = monitor.open({
    id: bundle.id,
    intent: bundle.intent,
    transport: 'replay',
    lifecycle: false,
    ...(bundle.identity && { identity: bundle.identity }),
  });
  const decisions: Decision[] = [];
  const refused = new Set<PendingKey>();
  let fed = 0;
  let skipped = 0;
  try {
    for (const { dir, msg, t, bytes, amend } of bundle.events) {
      if (t !== undefined) options.clock?.set(start + t);
      if (session.status !== 'open') {
        skipped++;
        continue;
      }
      // An intent change approved at this point live: the events after it are decided under it.
      if (amend) {
        await session.amendIntent(amend.intent, amend.by);
        continue;
      }
      const id = (msg as { id?: unknown } | null)?.id;
      const isAnswer = msg !== null && typeof msg === 'object' && ('result' in msg || 'error' in msg);
      if (
        isAnswer &&
        (typeof id === 'string' || typeof id === 'number') &&
        refused.has(pendingKey(opposite(dir), id))
      ) {
        skipped++;
        continue;
      }
      fed++;
      const outcome = await session.observe(dir, msg, bytes);
      if (outcome.decision) decisions.push(outcome.decision);
      if (outcome.answer !== undefined && (typeof id === 'string' || typeof id === 'number'))
        refused.add(pendingKey(dir, id));
    }
  } finally {
    session.close('replay finished');
  }
  return summarise(bundle.id, decisions, fed, skipped);
}

/** Reduce a session's decisions to the replay summary. */
function summarise(
  id: string,
  decisions: readonly Decision[],
  events = decisions.length,
  skipped = 0,
): ReplayResult {
  let outcome: Action = 'allow';
  let stopped: number | null = null;
  const findings: { rule: string; action: Action; call: number | null; reason: string }[] = [];
  for (const d of decisions) {
    if (ACTION_RANK[d.action] > ACTION_RANK[outcome]) outcome = d.action;
    if (stopped === null && d.call !== undefined && d.kind === 'request' && STOPS.has(d.action))
      stopped = d.call;
    for (const f of d.findings)
      if (f.action !== 'allow')
        findings.push({ rule: f.rule, action: f.action, call: d.call ?? null, reason: f.reason });
  }
  return { id, outcome, stopped_at_call: stopped, findings, events, skipped };
}
