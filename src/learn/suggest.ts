import { labelValues, sensitivityRank } from '../analyze/labels.js';
import { collectStrings, targetsOf } from '../analyze/targets.js';
import { resolvedLocation } from '../intent/location-match.js';
import { resourcesOf } from '../intent/resource-args.js';
import type { Sensitivity } from '../model/intent.js';
import type { RecordedSession } from '../store/bundle.js';
import { isObject } from '../jsonrpc/message.js';

/** A suggested intent: the object (what parseIntent reads) and why each part is there. */
export interface Suggestion {
  readonly intent: {
    readonly purpose: string;
    readonly tools: readonly string[];
    readonly zones: readonly string[];
    readonly recipients: readonly string[];
    readonly sensitivity: Sensitivity;
    readonly budget: { readonly calls: number; readonly duration: string };
    readonly resources?: { readonly paths?: readonly string[]; readonly hosts?: readonly string[] };
  };
  /** Per line of the intent (`tools.read_file`, `resources.paths./srv/x`, `budget.calls`…): the reason. */
  readonly why: ReadonlyMap<string, string>;
  /** Calls left out because a rule flagged them: `session #call tool: rule (action)`. */
  readonly leftOut: readonly string[];
  readonly sessions: number;
  readonly calls: number;
}

// Findings that fire only because the session ran under the empty learn-mode intent (nothing approved):
// they say "outside intent", which is what learning is about (the shipped rules listed here fire on
// `!tool.approved`, `intent.zones` or the drift that out-of-intent calls raise). Every other finding
// (a sensitive resource, injected or steered content, exfiltration, a sensitivity above a ceiling, a
// fault) flags the call, and so does any finding of a session recorded under a real intent.
const LEARN_RELATIVE = new Set([
  'intent/tool-not-approved',
  'intent/resource-scope',
  'intent/argument-constraint',
  'intent/budget-calls',
  'intent/budget-duration',
  'IG-INT-001',
  'IG-INT-002',
  'IG-INT-003',
  'IG-DST-001',
  'IG-PRIV-001',
  'IG-NET-001',
  'IG-BUD-001',
  'IG-BUD-002',
  'IG-DRF-001',
]);

interface Finding {
  readonly rule?: unknown;
  readonly action?: unknown;
}
interface Call {
  tool: string;
  args: Record<string, unknown>;
  result?: unknown;
  flags: string[];
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

/** The flags a decision carries: findings that are not merely "outside the learn-mode intent". */
function flagsOf(findingsJson: string | null, learning: boolean): string[] {
  const findings = findingsJson === null ? [] : parse(findingsJson);
  if (!Array.isArray(findings)) return findingsJson === null ? [] : ['unreadable decision'];
  return (findings as Finding[])
    .filter((f) => f.action !== 'allow' && !(learning && LEARN_RELATIVE.has(String(f.rule))))
    .map((f) => `${String(f.rule)} (${String(f.action)})`);
}

/** The tool calls of one recorded session, each with its result, arguments, schema and flags. */
function callsOf(s: RecordedSession): { calls: Call[]; schemas: Map<string, unknown>; durationMs: number } {
  const learning = (parse(s.intentJson) as { id?: unknown } | undefined)?.id === 'learn-mode';
  const byId = new Map<string, Call>();
  const listIds = new Set<string>();
  const schemas = new Map<string, unknown>();
  const calls: Call[] = [];
  let last = s.startedAt;
  for (const e of s.events) {
    last = Math.max(last, e.time);
    if (e.synthetic) continue;
    const msg = parse(e.raw);
    if (!isObject(msg)) continue;
    const id = msg.id === undefined ? undefined : JSON.stringify(msg.id);
    if (e.dir === 'c2s' && msg.method === 'tools/list' && id) listIds.add(id);
    if (e.dir === 's2c' && id && listIds.has(id) && isObject(msg.result) && Array.isArray(msg.result.tools)) {
      for (const t of msg.result.tools)
        if (isObject(t) && typeof t.name === 'string') schemas.set(t.name, t.inputSchema);
    }
    if (
      e.dir === 'c2s' &&
      msg.method === 'tools/call' &&
      isObject(msg.params) &&
      typeof msg.params.name === 'string'
    ) {
      const call: Call = {
        tool: msg.params.name,
        args: isObject(msg.params.arguments) ? msg.params.arguments : {},
        flags: flagsOf(e.findingsJson, learning),
      };
      calls.push(call);
      if (id) byId.set(id, call);
    } else if (e.dir === 's2c' && id && byId.has(id)) {
      const call = byId.get(id)!;
      call.result = msg.result ?? msg.error;
      call.flags.push(...flagsOf(e.findingsJson, learning));
      if (isObject(msg.result) && msg.result.isError === true)
        call.flags.push('the server answered with an error');
    }
  }
  return { calls, schemas, durationMs: last - s.startedAt };
}

/** Directory prefixes covering paths: per top-level folder pair, the deepest directory all share. */
export function commonPrefixes(paths: Iterable<string>): string[] {
  const groups = new Map<string, string[][]>();
  for (const p of new Set(paths)) {
    const parts = p.split('/');
    const key = parts.slice(0, p.startsWith('/') ? 3 : 2).join('/');
    groups.set(key, [...(groups.get(key) ?? []), parts]);
  }
  const out: string[] = [];
  for (const members of groups.values()) {
    const first = members[0]!;
    let n = first.length;
    for (const m of members) {
      let i = 0;
      while (i < n && i < m.length && m[i] === first[i]) i++;
      n = i;
    }
    out.push(first.slice(0, n).join('/') || '/');
  }
  return out.sort();
}

const roundUpMinutes = (ms: number) => Math.max(5, Math.ceil(ms / 60_000));

/**
 * Propose an intent from recorded sessions: the tools they used, the directory prefixes and hosts
 * their arguments named, the recipients they wrote to, a budget with headroom (twice the largest
 * session) and a sensitivity ceiling from the data their results carried. A call a rule flagged (any
 * finding but "outside the learn-mode intent"), or that failed, contributes nothing and is listed.
 * @example suggestIntent([...recordedSessions(store)]).intent
 */
export function suggestIntent(sessions: readonly RecordedSession[]): Suggestion {
  const why = new Map<string, string>();
  const tools = new Map<string, number>();
  const paths = new Map<string, string>();
  const hosts = new Set<string>();
  const recipients = new Set<string>();
  const leftOut: string[] = [];
  let ceiling: Sensitivity = 'public';
  let ceilingWhy = 'no result carried labelled data (secrets, credentials, financial or personal data)';
  let maxCalls = 0,
    maxMs = 0,
    total = 0;
  for (const s of sessions) {
    const { calls, schemas, durationMs } = callsOf(s);
    maxCalls = Math.max(maxCalls, calls.length);
    maxMs = Math.max(maxMs, durationMs);
    calls.forEach((c, i) => {
      total++;
      if (c.flags.length > 0) {
        leftOut.push(`session ${s.id} call ${i + 1} ${c.tool}: ${[...new Set(c.flags)].join(', ')}`);
        return;
      }
      tools.set(c.tool, (tools.get(c.tool) ?? 0) + 1);
      for (const r of resourcesOf(c.args, schemas.get(c.tool)).resources) {
        if (r.kind === 'url') {
          const host = targetsOf(r.value, true).values().next().value?.host;
          if (host) hosts.add(host);
        } else if (r.value.startsWith('/')) paths.set(resolvedLocation(r.value), c.tool);
      }
      for (const t of targetsOf(collectStrings(c.args).join('\n'), true).values()) {
        if (t.kind === 'email' || t.kind === 'account') recipients.add(t.value);
        if (t.host && t.kind === 'url') hosts.add(t.host);
      }
      const labels = labelValues(collectStrings(c.result));
      if (sensitivityRank(labels.sensitivity) > sensitivityRank(ceiling)) {
        ceiling = labels.sensitivity;
        ceilingWhy = `${c.tool} (session ${s.id}) returned ${labels.kinds.join(', ')}`;
      }
    });
  }
  for (const [t, n] of tools)
    why.set(`tools.${t}`, `called ${n} time${n === 1 ? '' : 's'} without a finding`);
  const prefixes = commonPrefixes(paths.keys());
  for (const p of prefixes) {
    const under = [...paths.keys()].filter((k) => k === p || k.startsWith(p.endsWith('/') ? p : `${p}/`));
    why.set(
      `resources.paths.${p}`,
      `covers ${under.length} path${under.length === 1 ? '' : 's'} named (e.g. ${under[0]})`,
    );
  }
  for (const h of hosts) why.set(`zones.${h}`, 'a host the calls reached');
  for (const r of recipients) why.set(`recipients.${r}`, 'a counterparty named in the calls');
  why.set('sensitivity', ceilingWhy);
  const calls = Math.max(10, maxCalls * 2);
  const minutes = roundUpMinutes(maxMs * 2);
  why.set('budget.calls', `twice the busiest session (${maxCalls} calls), at least 10`);
  why.set('budget.duration', `twice the longest session (${Math.ceil(maxMs / 1000)} s), at least 5 minutes`);
  const resources =
    prefixes.length > 0 || hosts.size > 0
      ? {
          ...(prefixes.length > 0 && { paths: prefixes }),
          ...(hosts.size > 0 && { hosts: [...hosts].sort() }),
        }
      : undefined;
  return {
    intent: {
      purpose: `learned from ${sessions.length} recorded session${sessions.length === 1 ? '' : 's'}: describe the task here`,
      tools: [...tools.keys()].sort(),
      zones: [...hosts].sort(),
      recipients: [...recipients].sort(),
      sensitivity: ceiling,
      budget: { calls, duration: `${minutes}m` },
      ...(resources && { resources }),
    },
    why,
    leftOut,
    sessions: sessions.length,
    calls: total,
  };
}
