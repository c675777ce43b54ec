import type { Finding } from '../model/policy.js';
import { redactValue } from '../rules/template.js';
import type { Store } from '../store/db.js';
import { sessionTimeline, type TimelineEntry } from '../store/queries.js';

/** Where an argument value came from: the earlier result whose text carries it. */
interface ProvenanceLink {
  /** The argument path (`path`, `to`, `items.0`). */
  readonly arg: string;
  readonly value: string;
  /** The seq of the earlier result event it came from. */
  readonly from: number;
}

/** One entry of a session timeline, as the console shows it (redacted). */
export interface ConsoleEntry extends Pick<
  TimelineEntry,
  'seq' | 'time' | 'dir' | 'kind' | 'method' | 'tool' | 'call'
> {
  readonly args?: unknown;
  readonly result?: unknown;
  readonly action: string;
  readonly intentVersion: number | null;
  readonly findings: readonly { rule: string; action: string; reason: string }[];
  readonly provenance: readonly ProvenanceLink[];
  /** A change of intent (widened by an approver): the new version, who approved it, the tools it adds. */
  readonly control?: { readonly version: number; readonly by: string; readonly added: readonly string[] };
}

const toolNames = (intent: unknown): string[] | '*' => {
  const tools = (intent as { tools?: unknown } | null)?.tools;
  if (tools === '*') return '*';
  return Array.isArray(tools)
    ? tools.map((t) => (typeof t === 'string' ? t : String((t as { name?: unknown })?.name ?? '')))
    : [];
};

/** Bounds: the entries a timeline page shows, argument values traced per call, result text kept per result. */
const MAX_ENTRIES = 2000;
const MAX_VALUES = 32;
const MAX_RESULT_TEXT = 64 * 1024;
const MIN_VALUE = 4;

/** Scalar argument values long enough to trace, with their paths (bounded). */
function valuesOf(v: unknown, path: string, out: { arg: string; value: string }[], depth = 0): void {
  if (out.length >= MAX_VALUES || depth > 8) return;
  if (typeof v === 'string' || typeof v === 'number') {
    const s = String(v);
    if (s.length >= MIN_VALUE && s.length <= 1024) out.push({ arg: path, value: s });
  } else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v).slice(0, 64))
      valuesOf(x, path ? `${path}.${k}` : k, out, depth + 1);
}

/**
 * A session's timeline for the console: every call with its decision, the rules that fired and why,
 * the intent version, arguments and results redacted as alerts are, and for each argument value the
 * earlier result it came from (the latest result whose text contains it: plain `indexOf`, linear).
 */
export function consoleTimeline(
  store: Store,
  id: string,
): { session: Record<string, unknown>; entries: ConsoleEntry[]; truncated: boolean } | undefined {
  const t = sessionTimeline(store, id);
  if (!t) return undefined;
  const versions = new Map<number, number>(
    (
      store.db.prepare('SELECT seq, intent_version FROM decisions WHERE session_id = ?').all(id) as {
        seq: number;
        intent_version: number;
      }[]
    ).map((r) => [r.seq, r.intent_version]),
  );
  const results: { seq: number; text: string }[] = [];
  const entries: ConsoleEntry[] = [];
  // Decisions are recorded for what the rules did not simply allow; every call is evaluated under the
  // intent version in force, which moves at each control event (an approved widening).
  let version = Number(t.session.intent_version);
  let tools = toolNames(readIntent(t.session.intent_json));
  for (const e of t.entries.slice(0, MAX_ENTRIES)) {
    const raw = e.raw as {
      params?: { arguments?: unknown };
      result?: unknown;
      intent?: { version?: unknown };
      approvedBy?: unknown;
    };
    let control: ConsoleEntry['control'];
    if (e.kind === 'control' && raw.intent) {
      const next = toolNames(raw.intent);
      version = Number(raw.intent.version ?? version + 1);
      control = {
        version,
        by: String(raw.approvedBy ?? ''),
        added: next === '*' ? ['*'] : tools === '*' ? [] : next.filter((n) => !tools.includes(n)),
      };
      tools = next;
    }
    const isCall = e.kind === 'request' && e.tool !== null;
    const provenance: ProvenanceLink[] = [];
    if (isCall) {
      const values: { arg: string; value: string }[] = [];
      valuesOf(raw.params?.arguments, '', values);
      for (const v of values)
        for (let i = results.length - 1; i >= 0; i--)
          if (results[i]!.text.includes(v.value)) {
            provenance.push({
              ...v,
              value: String(redactValue(v.value, 'call.args', [])),
              from: results[i]!.seq,
            });
            break;
          }
    }
    if (e.kind === 'response' && e.tool !== null && raw.result !== undefined)
      results.push({ seq: e.seq, text: JSON.stringify(raw.result).slice(0, MAX_RESULT_TEXT) });
    entries.push({
      seq: e.seq,
      time: e.time,
      dir: e.dir,
      kind: e.kind,
      method: e.method,
      tool: e.tool,
      call: e.call,
      ...(isCall && { args: redactValue(raw.params?.arguments ?? {}, 'call.args', []) }),
      ...(e.kind === 'response' && { result: redactValue(raw.result, 'result', []) }),
      action: e.action ?? 'allow',
      intentVersion: versions.get(e.seq) ?? (isCall || control ? version : null),
      findings: e.findings.map((f: Finding) => ({ rule: f.rule, action: f.action, reason: f.reason })),
      provenance,
      ...(control && { control }),
    });
  }
  const { intent_json, hash: _hash, prev_hash: _prev, end_hash: _end, ...session } = t.session;
  return {
    session: { ...session, intent: readIntent(intent_json), intent_version_now: version },
    entries,
    truncated: t.entries.length > MAX_ENTRIES,
  };
}

function readIntent(json: unknown): unknown {
  try {
    return JSON.parse(String(json));
  } catch {
    return null;
  }
}
