import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { IntentGuardError } from '../errors.js';
import type { Direction, Identity } from '../model/events.js';
import { deepFreeze } from '../lib/canonical.js';
import { parseIntent } from '../intent/parse.js';
import type { Intent } from '../model/intent.js';
import { isObject } from '../jsonrpc/message.js';

/** One recorded session, as stored one-per-line in a bundle file (the `../shared/corpora/` format). */
export interface SessionBundle {
  readonly id: string;
  readonly intent: Intent;
  readonly identity?: Identity;
  /**
   * `bytes`: the recorded size, when known (saves measuring the message again). `amend`: not a message
   * but an approved change of the intent recorded at this point (an approval that widened it): replay
   * applies it there, so the events after it are decided under the intent version then in force.
   */
  readonly events: readonly {
    readonly dir: Direction;
    readonly msg: unknown;
    readonly t?: number;
    readonly bytes?: number;
    readonly amend?: IntentAmendment;
  }[];
  /** For scoring only: replay never reads `label` or `meta`. */
  readonly label?: string;
  readonly meta?: unknown;
}

/** An approved change of a session's intent, as recorded (a control event): the new intent and who approved it. */
export interface IntentAmendment {
  readonly intent: Intent;
  readonly by: string;
}

/**
 * The recorded events replay takes: the traffic, and the intent changes approved during the session
 * (control events, synthetic like intentguard's own answers, which are left out: replay makes its own).
 */
export const replayedEvent = (e: { readonly synthetic: boolean; readonly kind: string }): boolean =>
  !e.synthetic || e.kind === 'control';

/** An intent change read back from its control event's recorded JSON. */
export function amendmentOf(raw: string, what: string): IntentAmendment {
  const v = readRecorded(raw, what) as { intent?: unknown; approvedBy?: unknown } | null;
  return { intent: intentOf(JSON.stringify(v?.intent ?? null)), by: String(v?.approvedBy ?? 'recorded') };
}

/**
 * A session as recorded in the database, in plain strings and numbers (cheap to hand to a worker):
 * its binding and every event with the decision recorded for it.
 */
export interface RecordedSession {
  readonly id: string;
  readonly startedAt: number;
  readonly intentJson: string;
  readonly identity?: Identity;
  readonly events: readonly RecordedEvent[];
}

export interface RecordedEvent {
  readonly seq: number;
  readonly dir: Direction;
  readonly kind: string;
  readonly time: number;
  /** The message as recorded (JSON text). */
  readonly raw: string;
  readonly bytes: number;
  readonly synthetic: boolean;
  readonly call: number | null;
  readonly tool: string | null;
  /** The recorded decision's action (`allow` when none was stored) and its findings (JSON text). */
  readonly action: string;
  readonly findingsJson: string | null;
}

/**
 * JSON read back from a database row; text that does not parse was altered or damaged after it was
 * written (intentguard only ever stores what it serialized), so the error says which row and what to run.
 */
export function readRecorded(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new IntentGuardError(
      'ERR_STORE_CORRUPT',
      `${what} cannot be read back (${(e as Error).message}); run intentguard audit verify`,
    );
  }
}

/** The intent recorded as JSON, parsed once per distinct intent and frozen. */
// Recorded sessions of one agent share their intent: parse each distinct intent once (parsed intents are
// frozen here, so sharing is safe), which also lets per-intent work downstream (its digest) be cached.
const intents = new Map<string, Intent>();
export function intentOf(json: string): Intent {
  let intent = intents.get(json);
  if (!intent) {
    intent = deepFreeze(parseIntent(readRecorded(json, 'a recorded intent')));
    if (intents.size >= 256) intents.delete(intents.keys().next().value!);
    intents.set(json, intent);
  }
  return intent;
}

/** The bundle replay feeds for a recorded session: its traffic without intentguard's own answers. */
export function bundleOfRecorded(r: RecordedSession): SessionBundle {
  return {
    id: r.id,
    intent: intentOf(r.intentJson),
    // intentguard's own answers are not part of the recorded traffic: replay produces its own.
    events: r.events.filter(replayedEvent).map((e) =>
      e.synthetic
        ? {
            dir: e.dir,
            msg: null,
            t: e.time - r.startedAt,
            amend: amendmentOf(e.raw, `event ${e.seq} of session ${r.id}`),
          }
        : {
            dir: e.dir,
            msg: readRecorded(e.raw, `event ${e.seq} of session ${r.id}`),
            t: e.time - r.startedAt,
            bytes: e.bytes,
          },
    ),
    ...(r.identity && { identity: r.identity }),
  };
}

/**
 * A bundle's events as an export line carries them: `{dir, msg, t}`, and `{dir, msg: null, t, amend}`
 * where the intent was changed by an approval (so replaying the export re-applies it).
 */
export const exportedEvents = (b: SessionBundle): unknown[] =>
  b.events.map(({ dir, msg, t, amend }) => ({ dir, msg, t, ...(amend && { amend }) }));

/** A line that could not be read as a session bundle. */
export interface BundleLineError {
  readonly line: number;
  readonly error: IntentGuardError;
}

/**
 * Parse one bundle line. Throws `ERR_BUNDLE_LINE` (or `ERR_INTENT_INVALID`) naming what is wrong.
 * `label` and `meta` are carried through untouched for scorers; nothing in replay reads them.
 */
export function parseBundleLine(text: string): SessionBundle {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new IntentGuardError('ERR_BUNDLE_LINE', `not JSON: ${(e as Error).message}`);
  }
  if (!isObject(v)) throw new IntentGuardError('ERR_BUNDLE_LINE', 'a bundle line must be a JSON object');
  if (typeof v.id !== 'string' || v.id === '')
    throw new IntentGuardError('ERR_BUNDLE_LINE', 'missing string "id"');
  if (!Array.isArray(v.events))
    throw new IntentGuardError('ERR_BUNDLE_LINE', `session ${v.id}: "events" must be a list`);
  v.events.forEach((e, i) => {
    if (!isObject(e) || (e.dir !== 'c2s' && e.dir !== 's2c') || !('msg' in e)) {
      throw new IntentGuardError(
        'ERR_BUNDLE_LINE',
        `session ${v.id}: events[${i}] must be {dir: "c2s"|"s2c", msg, t?}`,
      );
    }
    if (e.t !== undefined && typeof e.t !== 'number')
      throw new IntentGuardError('ERR_BUNDLE_LINE', `session ${v.id}: events[${i}].t must be a number (ms)`);
    if (e.amend !== undefined && (!isObject(e.amend) || typeof e.amend.by !== 'string'))
      throw new IntentGuardError(
        'ERR_BUNDLE_LINE',
        `session ${v.id}: events[${i}].amend must be {intent, by} (an approved intent change)`,
      );
  });
  let identity: Identity | undefined;
  if (v.identity !== undefined) {
    if (!isObject(v.identity) || typeof v.identity.sub !== 'string')
      throw new IntentGuardError('ERR_BUNDLE_LINE', `session ${v.id}: identity must be {sub, ...}`);
    identity = v.identity as unknown as Identity;
  }
  const intent = parseIntent(v.intent);
  return {
    id: v.id,
    intent,
    // An approved intent change is parsed like the session's intent (a bad one is ERR_INTENT_INVALID).
    events: (v.events as Record<string, unknown>[]).map((e) =>
      isObject(e.amend)
        ? { ...e, amend: { intent: parseIntent(e.amend.intent), by: e.amend.by as string } }
        : e,
    ) as unknown as SessionBundle['events'],
    ...(identity && { identity }),
    ...(typeof v.label === 'string' && { label: v.label }),
    ...(v.meta !== undefined && { meta: v.meta }),
  };
}

/** The longest bundle line read (one session): a longer one is an error, never held in memory. */
const MAX_BUNDLE_LINE_BYTES = 256 * 1024 * 1024;

/**
 * The lines of a text file, gunzipped on the fly when it starts with the gzip magic bytes. A line longer
 * than `maxLineBytes` stops the read with `ERR_BUNDLE_LINE` naming it, rather than being buffered whole.
 */
export async function* readLines(path: string, maxLineBytes = MAX_BUNDLE_LINE_BYTES): AsyncGenerator<string> {
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  const raw = createReadStream(path);
  const input: AsyncIterable<Buffer> = head[0] === 0x1f && head[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  let parts: Buffer[] = [];
  let size = 0;
  let lineNo = 0;
  const text = () => Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
  for await (const chunk of input) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      size += end - start;
      if (size > maxLineBytes) {
        raw.destroy();
        throw new IntentGuardError(
          'ERR_BUNDLE_LINE',
          `${path}:${lineNo + 1}: line longer than ${maxLineBytes} bytes`,
        );
      }
      if (end > start) parts.push(chunk.subarray(start, end));
      if (nl < 0) break;
      lineNo++;
      yield text();
      parts = [];
      size = 0;
      start = nl + 1;
    }
  }
  if (size > 0) yield text();
}

/**
 * Read a bundle file (plain or gzipped JSON lines), yielding sessions and line errors in file order.
 * Blank lines are skipped.
 */
/** The non-blank lines of a bundle file with their 1-based line numbers. */
export async function* numberedLines(
  path: string,
  maxLineBytes = MAX_BUNDLE_LINE_BYTES,
): AsyncGenerator<{ line: string; lineNo: number }> {
  let n = 0;
  for await (const line of readLines(path, maxLineBytes)) {
    n++;
    if (line.trim() !== '') yield { line, lineNo: n };
  }
}

export async function* readBundles(
  path: string,
  maxLineBytes = MAX_BUNDLE_LINE_BYTES,
): AsyncGenerator<SessionBundle | BundleLineError> {
  let n = 0;
  const lines = readLines(path, maxLineBytes);
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    try {
      yield parseBundleLine(text);
    } catch (e) {
      const error =
        e instanceof IntentGuardError ? e : new IntentGuardError('ERR_BUNDLE_LINE', (e as Error).message);
      yield { line: n, error };
    }
  }
}
