import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntentGuardError } from '../errors.js';
import { createReplayPool, replayInOrder } from '../replay/pool.js';
import type { ReplayJob } from '../replay/jobs.js';
import { loadRulePack } from '../rules/pack.js';
import type { Store } from '../store/db.js';
import { sessionsSince } from './queries.js';

/** One recorded decision a candidate rule set would make differently (what `replay --diff` prints). */
interface DiffRow {
  readonly session: string;
  readonly call: number | null;
  readonly tool: string | null;
  readonly before: string;
  readonly after: string;
  readonly rules: readonly string[];
  readonly reason: string;
}

export interface RulesDiff {
  /** Sessions replayed (the newest within the period, at most `MAX_SESSIONS`). */
  readonly sessions: number;
  /** More sessions fell in the period than were replayed. */
  readonly capped: boolean;
  readonly changed: number;
  /** The changed decisions, at most `MAX_ROWS` of them. */
  readonly rows: readonly DiffRow[];
  readonly candidate: string;
}

/** Bounds: sessions one diff replays, rows it returns, the size of a pasted rule file. */
export const MAX_SESSIONS = 500;
const MAX_ROWS = 1000;
const MAX_PASTED = 32 * 1024;

/**
 * `replay --diff` from the console: replay the recorded sessions of a period (newest first, bounded)
 * with the shipped pack plus a candidate rules directory on the console's host, or one pasted rule
 * file, and list every decision that would change. Replays run on worker threads, never on the
 * thread that serves pages (or, inside a proxy, carries traffic).
 */
export async function diffCandidateRules(
  store: Store,
  o: { dir?: string; text?: string; since: number },
): Promise<RulesDiff> {
  if ((o.dir ? 1 : 0) + (o.text ? 1 : 0) !== 1)
    throw new IntentGuardError(
      'ERR_CONSOLE_REQUEST',
      'give a candidate rules directory or paste one rule file (one of the two)',
    );
  if (o.text !== undefined && o.text.length > MAX_PASTED)
    throw new IntentGuardError('ERR_CONSOLE_REQUEST', `a pasted rule file is at most ${MAX_PASTED} bytes`);
  const pasted = o.text ? mkdtempSync(join(tmpdir(), 'ig-console-rules-')) : undefined;
  try {
    if (pasted) writeFileSync(join(pasted, 'candidate.yaml'), o.text!);
    const dir = pasted ?? o.dir!;
    // Load once here: a bad candidate is refused with its rule error (file, line, code) before any replay.
    loadRulePack([dir]);
    const ids = sessionsSince(store, o.since, MAX_SESSIONS + 1);
    const capped = ids.length > MAX_SESSIONS;
    // The newest sessions of the period, replayed in the order they were recorded (as the CLI does).
    const chosen = ids.slice(0, MAX_SESSIONS).reverse();
    const rows: DiffRow[] = [];
    let changed = 0;
    const pool = createReplayPool({ jobs: 2, rules: [dir], pack: true });
    try {
      await replayInOrder(
        pool,
        chosen.map((session): ReplayJob => ({ kind: 'stored', db: store.path, session, diff: true })),
        (out) => {
          if (out.kind === 'error') throw new IntentGuardError('ERR_REPLAY', `${out.code}: ${out.message}`);
          for (const d of out.diff ?? []) {
            changed++;
            if (rows.length < MAX_ROWS)
              rows.push({
                session: d.session,
                call: d.call,
                tool: d.tool ?? d.method,
                before: d.before,
                after: d.after,
                rules: d.rules,
                reason: d.reason,
              });
          }
        },
      );
    } finally {
      await pool.close();
    }
    return {
      sessions: chosen.length,
      capped,
      changed,
      rows,
      candidate: pasted ? 'the pasted rule file' : dir,
    };
  } finally {
    if (pasted) rmSync(pasted, { recursive: true, force: true });
  }
}
