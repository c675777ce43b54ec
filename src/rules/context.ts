import { nameWords, profileTool, readOnlyCommand, type ToolProfile } from '../analyze/categories.js';
import { sensitivePathCategory } from '../intent/sensitive.js';
import { detectInjection, instructionLike } from '../analyze/injection.js';
import { AnalysisBudget } from '../analyze/budget.js';
import { decodeUncached, decodedLayers, nothingToDecode } from '../analyze/decode.js';
import { labelText, labelValues, sensitivityRank, type LabelReport } from '../analyze/labels.js';
import { SecretPieces } from '../analyze/secret-pieces.js';
import { linear } from '../analyze/linear.js';
import { plainText } from '../analyze/plain.js';
import { ProvenanceIndex, couldBeToken, type Source } from '../analyze/provenance.js';
import { purposeWords, steeredTargets, toolNameWord, type PurposeWords } from '../analyze/steering.js';
import { requestedBy } from '../intent/requested.js';
import { collectStrings, extractTargets, targetsOf, type Target, type TargetKind } from '../analyze/targets.js';
import type { SessionEvent } from '../model/events.js';
import type { Sensitivity } from '../model/intent.js';
import type { SessionState } from '../model/session.js';
import { isImmutable } from '../lib/canonical.js';
import { hostInZone } from '../analyze/host-zone.js';
import type { EventKindName } from './types.js';

/**
 * The rule engine's incremental per-session state: provenance index, counters, tool profiles. It is
 * updated in place by {@link observeEvent} (copying a 64k-entry index per event would make cost grow
 * with session length); memory is bounded (see `LIMITS` in provenance.ts and README).
 */
export interface Analysis {
  readonly prov: ProvenanceIndex;
  /** The intent the fields below were derived from (an approved change replaces it). */
  intentSource: unknown;
  intentTargets: ReadonlySet<string>;
  intentHosts: readonly string[];
  intentText: string;
  /** The approved purpose, lower case. */
  purposeText: string;
  intentCtx: Record<string, unknown>;
  readonly principalCtx: Record<string, unknown>;
  unverified: Record<string, unknown>;
  server: string;
  injectionSeen: boolean;
  /** An earlier result steered the reader towards a target unrelated to the purpose (see steering.ts). */
  steeringSeen: boolean;
  untrustedSeen: boolean;
  maxSensitivity: Sensitivity;
  outOfIntent: number;
  outOfIntentSideEffects: number;
  sideEffects: number;
  /** Drift counts distinct signals (a tool, a set of targets), so an agent repeating one call does not drift. */
  readonly drift_: { out: number; outSide: number; targets: number; injected: number; readonly seen: Set<string> };
  serverRequests: number;
  readonly callTimes: number[];
  /** Index of the first call time still inside the one-minute window. */
  callTimesStart: number;
  /** Cached `session.tools_used` list (rebuilt when a new tool appears). */
  toolsUsedList: string[];
  /** Cached drift score and the counters it was computed from. */
  drift: number;
  driftKey: string;
  lastTool: string;
  streak: number;
  listCount: number;
  readonly firstListTools: Set<string>;
  readonly toolDigests: Map<string, string>;
  readonly profiles: Map<string, ToolProfile>;
  /** Distinctive words of the approved purpose, without the listed tools' name words (see steering.ts); computed on first use. */
  purposeWords: PurposeWords | undefined;
  /** Words of the listed tools' names. */
  readonly toolWords: Set<string>;
  /** Targets (`kind:value`) some result steered the reader towards (see steering.ts); shared by the grant's sessions. */
  readonly steered: Set<string>;
  /** Per call index: the arguments, so results can be paired with what was asked. */
  readonly callArgs: Map<number, Readonly<Record<string, unknown>>>;
  /** Per destination: the tail of what earlier calls sent there, so a value split across calls is found whole. */
  readonly trails: Map<string, string>;
  /** Runs of the secrets earlier results carried (a call sending one sends that secret). */
  readonly secrets: SecretPieces;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// What the rules derive from an intent, per intent: an immutable intent (replay shares one across its
// sessions) is analysed once. The fields are only read afterwards.
const derived = new WeakMap<object, ReturnType<typeof deriveIntentFields>>();

function intentFields(session: SessionState): ReturnType<typeof deriveIntentFields> {
  const intent = session.intent;
  if (!isImmutable(intent)) return deriveIntentFields(session);
  let fields = derived.get(intent);
  if (!fields) {
    fields = deriveIntentFields(session);
    derived.set(intent, fields);
  }
  return fields;
}

function deriveIntentFields(session: SessionState) {
  const intent = session.intent;
  const intentText = [intent.purpose, ...intent.recipients, ...intent.zones].join('\n');
  const targets = extractTargets(intentText);
  for (const r of intent.recipients) for (const t of extractTargets(r).values()) targets.set(`${t.kind}:${t.value}`, t);
  const tools = intent.tools === '*' ? ['*'] : intent.tools.map((t) => t.name);
  return {
    intentSource: intent,
    intentTargets: new Set(targets.keys()),
    intentHosts: [...intent.zones, ...[...targets.values()].filter((t) => t.kind === 'host' || t.kind === 'ip').map((t) => t.value)],
    intentText: intentText.toLowerCase(),
    purposeText: (intent.purpose ?? '').toLowerCase(),
    purposeWords: undefined as PurposeWords | undefined,
    intentCtx: {
      id: intent.id ?? '', version: intent.version, purpose: intent.purpose, tools, zones: intent.zones, paths: intent.resources?.paths ?? [], recipients: intent.recipients,
      sensitivity: intent.sensitivity ?? '', budget_calls: intent.budget?.calls ?? -1, budget_duration_ms: intent.budget?.durationMs ?? -1,
    },
  };
}

/**
 * A fresh analysis; `prov` is the provenance index to use and `steered` the targets results steered
 * towards (both shared by a grant's sessions: what one session read decides another's calls), else new ones.
 */
export function createAnalysis(
  session: SessionState,
  prov: ProvenanceIndex = new ProvenanceIndex(),
  steered: Set<string> = new Set(),
): Analysis {
  return {
    prov,
    ...intentFields(session),
    principalCtx: {
      sub: session.identity?.sub ?? '', iss: session.identity?.iss ?? '', act: session.identity?.act?.sub ?? '', verified: Boolean(session.identity?.sub),
    },
    unverified: { client_name: '', client_version: '', protocol_version: '' },
    server: '',
    injectionSeen: false, steeringSeen: false, untrustedSeen: false, maxSensitivity: 'public',
    outOfIntent: 0, outOfIntentSideEffects: 0, sideEffects: 0, serverRequests: 0,
    drift_: { out: 0, outSide: 0, targets: 0, injected: 0, seen: new Set() },
    callTimes: [], callTimesStart: 0, toolsUsedList: [], drift: 0, driftKey: '', lastTool: '', streak: 0, listCount: 0, firstListTools: new Set(), toolDigests: new Map(), profiles: new Map(), callArgs: new Map(), trails: new Map(), secrets: new SecretPieces(),
    steered, toolWords: new Set(),
  };
}

function profile(a: Analysis, session: SessionState, name: string): ToolProfile {
  let p = a.profiles.get(name);
  if (!p) {
    const info = session.tools.get(name);
    p = profileTool(name, info?.annotations, info?.description);
    if (a.profiles.size < 4096) a.profiles.set(name, p);
  }
  return p;
}

const COMMAND_ARGS = new Set(['command', 'cmd', 'commands', 'script', 'shell', 'command_line', 'commandline']);
const READS: ToolProfile = Object.freeze({ categories: Object.freeze(['read']) as unknown as ToolProfile['categories'], sideEffecting: false, readOnly: true });

/**
 * What this call of the tool does. A code-execution tool (a terminal, a shell) does what its command
 * line says: one that only lists, reads or searches (see `readOnlyCommand`) and names no sensitive
 * location (keys, credentials, environment, secrets) reads, for this call. Anything else keeps the
 * tool's profile.
 */
function callProfile(p: ToolProfile, args: Readonly<Record<string, unknown>>): ToolProfile {
  if (!p.categories.includes('code-execution') || p.categories.some((c) => c !== 'code-execution' && c !== 'read')) return p;
  let commands = 0;
  for (const [key, value] of Object.entries(args)) {
    if (!COMMAND_ARGS.has(key.toLowerCase())) continue;
    if (typeof value !== 'string' || !readOnlyCommand(value)) return p;
    if (value.split(/\s+/).some((w) => sensitivePathCategory(w.replace(/^['"]|['"]$/g, '')) !== undefined)) return p;
    commands++;
  }
  return commands > 0 ? READS : p;
}

/** Text of an MCP result: text parts, embedded resource text, and structured content. */
function resultText(result: unknown): string {
  if (!isObject(result)) return '';
  const parts: string[] = [];
  if (Array.isArray(result.content)) {
    for (const c of result.content) {
      if (!isObject(c)) continue;
      if (typeof c.text === 'string') parts.push(c.text);
      if (isObject(c.resource) && typeof c.resource.text === 'string') parts.push(c.resource.text);
    }
  }
  if (Array.isArray(result.contents)) for (const c of result.contents) if (isObject(c) && typeof c.text === 'string') parts.push(c.text);
  if (Array.isArray(result.messages)) parts.push(...collectStrings(result.messages));
  if (result.structuredContent !== undefined) parts.push(...collectStrings(result.structuredContent));
  if (parts.length === 0 && result.content === undefined) parts.push(...collectStrings(result));
  return parts.join('\n');
}

const inIntent = (a: Analysis, t: Target): boolean => {
  if (a.intentTargets.has(`${t.kind}:${t.value}`)) return true;
  const host = t.kind === 'host' || t.kind === 'ip' ? t.value : t.host;
  if (host && a.intentHosts.some((z) => hostInZone(host, z))) return t.kind !== 'email' || a.intentText.includes(t.value);
  return a.intentText.includes(t.value.toLowerCase());
};

const maxSens = (a: Sensitivity, b: Sensitivity): Sensitivity => (sensitivityRank(b) > sensitivityRank(a) ? b : a);

/** Which rule event kind an event is. */
/** The rule vocabulary's kind of an event (a `tools/call` request is a `tool_call`, its answer a `tool_result`). */
export function eventKind(event: SessionEvent): EventKindName {
  if (event.kind === 'request') {
    if (event.dir === 's2c') return 'server_request';
    return event.method === 'tools/call' ? 'tool_call' : 'request';
  }
  if (event.kind === 'response' || event.kind === 'error') {
    if (event.method === 'tools/call') return 'tool_result';
    if (event.method === 'tools/list' && event.kind === 'response') return 'tools_list';
    return 'response';
  }
  return 'notification';
}

/** Argument names that say where a call sends or writes to (as opposed to what it sends); compared lower-cased, no regex. */
const DESTINATION_ARGS = new Set(['to', 'cc', 'bcc', 'recipient', 'recipients', 'receiver', 'receivers', 'email', 'emails', 'mail', 'address', 'addresses',
  'url', 'uri', 'link', 'href', 'endpoint', 'webhook', 'webhook_url', 'host', 'hostname', 'domain', 'server', 'channel', 'account', 'account_number',
  'iban', 'destination', 'dest', 'target', 'user', 'users', 'username', 'user_name', 'useremail', 'user_email', 'phone', 'phone_number', 'number',
  'repo', 'repository', 'bucket', 'to_email', 'email_address']);
const isDestinationArg = (key: string): boolean => key.length <= 16 && DESTINATION_ARGS.has(key.toLowerCase());

/** Walk arguments collecting their strings, and the targets found under destination-like argument names. */
interface ArgScan {
  strings: string[];
  /** What is sent (strings not under destination-like names), by argument name, for per-destination trails. */
  sent: [string, string][];
  targets: Map<string, Target>;
  destinations: Map<string, Target>;
  destinationArgs: number;
  budget: AnalysisBudget;
}

function scanString(scan: ArgScan, s: string, key: string | undefined, isDest: boolean): void {
  if (!scan.budget.read(s.length)) return;
  scan.strings.push(s);
  if (isDest) scan.destinationArgs++;
  else if (key !== undefined) scan.sent.push([key, s]);
  if (s.length < 4) return;
  const found = targetsOf(s, isDest);
  for (const [k, t] of found) {
    scan.targets.set(k, t);
    if (isDest) scan.destinations.set(k, t);
  }
}

// Every string and every object key is scanned, to any depth the wire accepts; past the budget the
// walk stops and the call is decided fail closed (never passed on unscanned).
function walkArgs(scan: ArgScan, v: unknown, key: string, depth: number): void {
  if (scan.budget.exceeded !== undefined || !scan.budget.deep(depth)) return;
  if (typeof v === 'string') scanString(scan, v, key, isDestinationArg(key));
  else if (Array.isArray(v)) {
    for (const x of v) walkArgs(scan, x, key, depth + 1);
  } else if (v && typeof v === 'object') {
    for (const k in v) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      scanString(scan, k, undefined, false);
      walkArgs(scan, (v as Record<string, unknown>)[k], k, depth + 1);
    }
  }
}

/** Walk arguments collecting their strings, and the targets found under destination-like argument names. */
function scanArgs(args: Readonly<Record<string, unknown>>, budget: AnalysisBudget): { strings: string[]; sent: [string, string][]; targets: Map<string, Target>; destinations: Map<string, Target> } {
  const scan: ArgScan = { strings: [], sent: [], targets: new Map(), destinations: new Map(), destinationArgs: 0, budget };
  walkArgs(scan, args, '', 0);
  // No argument is named like a destination: every target may be one.
  return { strings: scan.strings, sent: scan.sent, targets: scan.targets, destinations: scan.destinationArgs === 0 ? scan.targets : scan.destinations };
}

/**
 * Bounds of the per-destination trails (see README, "Bounds"). Only what crosses the junction between
 * earlier calls and this one is new: the last `junction` characters sent there, joined with the first
 * `junction` of this call's value, so a call costs O(1) extra whatever was sent before. 64 covers the
 * longest shortest match of any label detector (a BEGIN line, an IBAN, a card number, a key assignment,
 * a JWT's three parts: ≤ 64 characters) and two provenance shingles; text further from the junction
 * lies wholly in one call's value and was labelled and traced there. (256 cost 4x the labelling for
 * nothing more found.)
 */
const TRAIL = { junction: 64, destinations: 256 } as const;

/**
 * The texts whose content the analysis looks at for one call: its strings and what they decode to
 * (base64, hex, percent-encoding, a few levels); and, in `once`, for each destination and argument the
 * tail of what earlier calls sent there joined with the head of what this one sends (a value split
 * across calls is found whole), with what those decode to. Updates the trails. A joined text that is
 * plain (see plain.ts: nothing to decode, no label, read either way), and likewise a plain value,
 * goes to `quiet` instead, without its reversal: provenance still looks it up, the decoder and the
 * labels have nothing to find in it. Only when nothing else would read the reversal: no secret pieces
 * are known, the rules read no text fragments, and the text is no single token.
 */
function contentTexts(a: Analysis, scan: ReturnType<typeof scanArgs>, budget: AnalysisBudget, fragmentFields: boolean): { texts: string[]; once: string[]; quiet: string[] } {
  const texts: string[] = [], once: string[] = [], quiet: string[] = [];
  const fastPath = a.secrets.size === 0 && !fragmentFields;
  const decode: string[] = [];
  // The values first, then what they decode to (labels list their kinds in that order).
  for (const s of scan.strings) {
    if (s.length >= 16 && fastPath && !couldBeToken(s) && plainText(s)) quiet.push(s);
    else {
      texts.push(s);
      if (s.length >= 16) decode.push(s);
    }
  }
  for (const s of decode) {
    texts.push(...budget.spendLayers(decodedLayers(s)));
  }
  if (scan.destinations.size === 0 || scan.destinations === scan.targets) return { texts, once, quiet };
  for (const [arg, value] of scan.sent) {
    // Destinations that received the same values (an address and its host) have the same trail: each
    // distinct junction is analysed once per call.
    const joinedFrom = new Set<string>();
    for (const dest of scan.destinations.keys()) {
      const key = `${dest}\u0000${arg}`;
      const before = a.trails.get(key);
      if (before !== undefined && !joinedFrom.has(before) && budget.spend(before.length + TRAIL.junction)) {
        joinedFrom.add(before);
        const joined = before + value.slice(0, TRAIL.junction);
        if (fastPath && !couldBeToken(joined) && plainText(joined)) quiet.push(joined);
        else {
          once.push(joined);
          once.push(...budget.spendLayers(decodeUncached(joined)));
        }
      }
      if (before === undefined && a.trails.size >= TRAIL.destinations) a.trails.delete(a.trails.keys().next().value!);
      const next = value.length >= TRAIL.junction ? value.slice(value.length - TRAIL.junction) : (before ?? '') + value;
      a.trails.set(key, next.length > TRAIL.junction ? next.slice(next.length - TRAIL.junction) : next);
    }
  }
  return { texts, once, quiet };
}

function provenanceFor(a: Analysis, scan: ReturnType<typeof scanArgs>, strings: readonly string[], sideEffecting: boolean, fragmentFields: boolean) {
  const { targets, destinations } = scan;
  const list: Record<string, unknown>[] = [];
  const unapproved: string[] = [], fromResult: string[] = [], injected: string[] = [], invented: string[] = [], injectedValues: string[] = [];
  const dest = { all: [] as string[], unapproved: [] as string[], injected: [] as string[], invented: [] as string[], steered: [] as string[] };
  const steered: string[] = [];
  let fromInjected = false;
  const seen = new Set<Source>();
  for (const [key, t] of targets) {
    if (t.kind === 'local') continue; // a local file or socket is no counterparty (IG-NET-001 holds it to the zones)
    // A host named inside an approved URL/email is covered by that target's own approval.
    let approved = inIntent(a, t);
    let sources = approved ? [] : a.prov.targetSources(t);
    // An address the agent composed from known parts (a name the approval gives, a domain a result or
    // the approval names) has the provenance of those parts: not invented.
    if (!approved && sources.length === 0 && t.kind === 'email' && t.host) {
      const composed = composedFrom(a, t.value, t.host, strings);
      if (composed === 'intent') approved = true;
      else if (composed) sources = composed;
    }
    const inj = sources.some((s) => s.injected);
    for (const src of sources) seen.add(src);
    const isDest = destinations.has(key);
    list.push({ value: t.value, kind: t.kind, in_intent: approved, from_result: sources.length > 0, from_injected: inj, destination: isDest });
    if (isDest) dest.all.push(t.value);
    if (approved) continue;
    if (isDest) {
      dest.unapproved.push(t.value);
      if (inj) dest.injected.push(t.value);
      if (sources.length === 0) dest.invented.push(t.value);
      else if (a.steered.has(key)) dest.steered.push(t.value);
    }
    unapproved.push(t.value);
    if (sources.length > 0 && a.steered.has(key)) steered.push(t.value);
    if (sources.length > 0) fromResult.push(t.value);
    else invented.push(t.value);
    if (inj) {
      injected.push(t.value);
      fromInjected = true;
    }
  }
  for (const s of strings) {
    const v = s.trim();
    // Prose and lists (a break character) are never a whole token: no lower-casing, no lookup.
    if (v.length >= 6 && v.length <= 200 && couldBeToken(v) && !a.intentText.includes(v.toLowerCase())) {
      const src = a.prov.valueSource(v);
      if (src) seen.add(src);
      if (src?.injected) {
        injectedValues.push(v);
        fromInjected = true;
      }
    }
  }
  // Content the approval itself quotes (a post's text, a name, an address given in the purpose): the
  // approval asked for this value to be used. Destination arguments are not content.
  const approvedValues: string[] = [];
  for (const [, value] of scan.sent) {
    const v = value.trim();
    if (v.length >= 8 && v.length <= 2000 && /[a-z]/i.test(v) && a.purposeText.includes(v.toLowerCase())) approvedValues.push(v);
  }
  // Text fragments are the costly part: computed on first use (a rule reading provenance.fragments or
  // max_source_sensitivity, or a flow rule whose destination condition already holds).
  const lazy = { done: false, fragments: [] as Record<string, unknown>[], max: 'public' as Sensitivity };
  const fragmentsNow = () => {
    if (lazy.done) return;
    lazy.done = true;
    const fragSeen = new Set<Source>();
    for (const s of strings) {
      if (s.length < 24) continue;
      for (const src of a.prov.fragmentSources(s)) {
        if (fragSeen.has(src)) continue;
        fragSeen.add(src);
        seen.add(src);
        lazy.max = maxSens(lazy.max, src.sensitivity);
        lazy.fragments.push({ call: src.call, tool: src.tool, injected: src.injected, sensitivity: src.sensitivity });
      }
    }
  };
  if (sideEffecting) {
    if (unapproved.length > 0 && firstSignal(a, `u:${[...unapproved].sort().join(' ')}`)) a.drift_.targets++;
    if (fromInjected && firstSignal(a, `i:${[...injected, ...injectedValues].sort().join(' ')}`)) a.drift_.injected++;
  }
  const ctx: Record<string, unknown> = {
    targets: list, unapproved_targets: unapproved, result_targets: fromResult, injected_targets: injected, invented_targets: invented,
    injected_values: injectedValues, from_injected: fromInjected,
    destinations: dest.all, unapproved_destinations: dest.unapproved, injected_destinations: dest.injected, invented_destinations: dest.invented,
    steered_destinations: dest.steered, steered_targets: steered, approved_values: approvedValues,
  };
  // Defining getters costs on every call: only when some rule reads these fields.
  if (fragmentFields) {
    Object.defineProperty(ctx, 'fragments', { enumerable: true, get: () => (fragmentsNow(), lazy.fragments) });
    Object.defineProperty(ctx, 'max_source_sensitivity', { enumerable: true, get: () => (fragmentsNow(), lazy.max) });
  }
  return { ctx, sources: () => (fragmentsNow(), seen) };
}

/** Is this drift signal new in the session? Past the bound every signal counts as new (fails towards drift). */
function firstSignal(a: Analysis, key: string): boolean {
  if (a.drift_.seen.has(key)) return false;
  if (a.drift_.seen.size < 4096) a.drift_.seen.add(key);
  return true;
}

/**
 * Sources of an email address composed from known parts: every piece of its local part (`dora`,
 * `dora.smith`) is named by the approval or by another argument of the call, and its domain by the
 * approval ('intent') or by earlier results (their sources). Undefined when it was not so composed.
 */
function composedFrom(a: Analysis, email: string, host: string, strings: readonly string[]): Source[] | 'intent' | undefined {
  const pieces = email.slice(0, email.lastIndexOf('@')).split(/[._+-]+/).filter((p) => p.length >= 2);
  if (pieces.length === 0 || pieces.some((p) => !/^[a-z]+$/.test(p))) return undefined;
  const others = strings.filter((s) => !s.toLowerCase().includes(email)).map((s) => s.toLowerCase());
  if (!pieces.every((p) => a.intentText.includes(p) || others.some((s) => s.includes(p)))) return undefined;
  const domain: Target = { kind: 'host', value: host };
  if (inIntent(a, domain)) return pieces.every((p) => a.intentText.includes(p)) ? 'intent' : undefined;
  const sources = a.prov.targetSources(domain);
  return sources.length > 0 ? sources : undefined;
}

/** Drift score 0..1: 1 - Π(1 - w) over the session's distinct drift signals (weights in README). */
function driftScore(a: Analysis): number {
  const d = a.drift_;
  const key = `${d.outSide}/${d.out}/${d.targets}/${a.injectionSeen}/${d.injected}`;
  if (a.driftKey === key) return a.drift;
  a.driftKey = key;
  const keep = (1 - 0.3) ** d.outSide * (1 - 0.1) ** (d.out - d.outSide)
    * (1 - 0.2) ** d.targets * (a.injectionSeen ? 1 - 0.2 : 1) * (1 - 0.5) ** d.injected;
  a.drift = Math.round((1 - keep) * 1000) / 1000;
  return a.drift;
}

export interface EventContext {
  readonly kind: EventKindName;
  readonly ctx: Record<string, unknown>;
  /** For results: the source record to index after the rules ran (flow rules tag it). */
  readonly source?: Source & { flows: Set<string> };
  readonly resultText?: string;
  /** For tool calls: the result sources the arguments carry content from (computed on first call). */
  readonly argSources?: () => ReadonlySet<Source>;
  /** Set when the message was too large or too deep to analyse fully: it must be decided fail closed. */
  readonly overBudget?: string;
}

const timeCtx = (time: number, timeZone: string | undefined) => {
  if (!timeZone || timeZone === 'UTC') {
    const days = Math.floor(time / 86_400_000);
    return { now: time, hour: Math.floor((time - days * 86_400_000) / 3_600_000), weekday: (((days + 4) % 7) + 7) % 7 };
  }
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23', weekday: 'short' }).formatToParts(new Date(time));
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.find((p) => p.type === 'weekday')?.value ?? 'Sun');
  return { now: time, hour, weekday };
}

const SECRET_ASK = linear(/\b(password|passcode|passphrase|token|secret|api[ _-]?key|private key|credit card|card number|cvv|cvc|ssn|social security|iban|pin|otp|2fa|mfa)\b/i);

function sessionCtx(a: Analysis, session: SessionState, event: SessionEvent): Record<string, unknown> {
  if (a.toolsUsedList.length !== session.toolsUsed.size) a.toolsUsedList = [...session.toolsUsed.keys()];
  return {
    id: session.id, calls: session.calls, elapsed_ms: event.time - session.startedAt, tools_used: a.toolsUsedList,
    out_of_intent_calls: a.outOfIntent, side_effect_calls: a.sideEffects, injection_seen: a.injectionSeen, steering_seen: a.steeringSeen, untrusted_seen: a.untrustedSeen,
    max_sensitivity: a.maxSensitivity, drift_score: driftScore(a), calls_last_minute: a.callTimes.length - a.callTimesStart, same_tool_streak: a.streak,
    tool_definition_changes: session.toolDefinitionChanges, server_requests: a.serverRequests,
  };
}

const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CLIENT = 'io.modelcontextprotocol/clientInfo';

/** `unverified.*` from a 2026-07-28 request's `_meta`, replaced only when it says something new. */
function modernUnverified(a: Analysis, meta: Record<string, unknown>): void {
  const info = isObject(meta[META_CLIENT]) ? meta[META_CLIENT] : {};
  const name = String(info.name ?? ''), version = String(info.version ?? ''), protocol = meta[META_VERSION] as string;
  const u = a.unverified;
  if (u.client_name !== name || u.client_version !== version || u.protocol_version !== protocol)
    a.unverified = { client_name: name, client_version: version, protocol_version: protocol };
}

/** Every context has the same roots for what all events share (identity, intent, event, time, session); no spreads. */
function withCommon(extra: Record<string, unknown>, a: Analysis, session: SessionState, event: SessionEvent, kind: EventKindName, timeZone: string | undefined): Record<string, unknown> {
  extra.principal = a.principalCtx;
  extra.unverified = a.unverified;
  extra.intent = a.intentCtx;
  extra.event = { kind, dir: event.dir, method: event.method ?? '' };
  extra.time = timeCtx(event.time, timeZone);
  extra.session = sessionCtx(a, session, event);
  return extra;
}

/** The text a result (or error) is analysed as. */
const resultFull = (event: SessionEvent): string =>
  event.kind === 'error' ? `${event.error?.message ?? ''}\n${JSON.stringify(event.error?.data ?? '')}` : resultText(event.result);

/**
 * Why analysing this answer would go over the analysis budget, or undefined. Never less strict than
 * {@link observeEvent}: it decodes every text long enough to be decoded (observeEvent skips decoding a
 * text already labelled secret), so what passes here passes there. Other kinds have no budget.
 */
export function answerOverBudget(event: SessionEvent): string | undefined {
  if (event.kind !== 'response' && event.kind !== 'error') return undefined;
  const full = resultFull(event);
  const budget = new AnalysisBudget();
  if (!budget.read(full.length) || full.length < 16) return budget.exceeded;
  // A text with nothing to decode (most prose) has one reading, itself reversed: its account is
  // settled without decoding it, so a long answer is not decoded before it is delivered as well as after.
  if (nothingToDecode(full)) budget.spend(full.length);
  else budget.spendLayers(decodedLayers(full));
  return budget.exceeded;
}

/** Bring the analysis's view of the approval up to date with the session's (amended approvals replace it). */
export function syncIntent(a: Analysis, session: SessionState): void {
  if (a.intentSource !== session.intent) Object.assign(a, intentFields(session));
}

/**
 * Update the analysis with one event and build the context its rules see. Counters include the
 * current event ("this one included").
 */
export function observeEvent(a: Analysis, session: SessionState, event: SessionEvent, timeZone?: string, fragmentFields = true): EventContext {
  const kind = eventKind(event);
  syncIntent(a, session);
  const ctxOf = (extra: Record<string, unknown>) => withCommon(extra, a, session, event, kind, timeZone);

  if (kind === 'request' && event.method === 'initialize' && isObject((event.raw as { params?: unknown }).params)) {
    const p = (event.raw as { params: Record<string, unknown> }).params;
    const info = isObject(p.clientInfo) ? p.clientInfo : {};
    a.unverified = { client_name: String(info.name ?? ''), client_version: String(info.version ?? ''), protocol_version: String(p.protocolVersion ?? '') };
  }
  // MCP 2026-07-28 has no initialize: each request names its protocol version and clientInfo in _meta.
  if ((kind === 'request' || kind === 'tool_call') && isObject((event.raw as { params?: unknown }).params)) {
    const meta = (event.raw as { params: { _meta?: unknown } }).params._meta;
    if (isObject(meta) && typeof meta[META_VERSION] === 'string') modernUnverified(a, meta);
  }
  if (kind === 'response' && event.method === 'initialize' && isObject(event.result) && isObject(event.result.serverInfo)) {
    a.server = String(event.result.serverInfo.name ?? '');
  }

  if (kind === 'tool_call') {
    const tool = event.tool!;
    const args = event.args ?? {};
    const p = callProfile(profile(a, session, tool), args);
    const approved = session.intent.tools === '*' || session.intent.tools.some((t) => t.name === tool);
    if (!approved) {
      a.outOfIntent++;
      if (p.sideEffecting) a.outOfIntentSideEffects++;
      if (firstSignal(a, `t:${tool}`)) {
        a.drift_.out++;
        if (p.sideEffecting) a.drift_.outSide++;
      }
    }
    if (p.sideEffecting) a.sideEffects++;
    // Sliding one-minute window of call times: a start index instead of shift(), compacted now and then.
    const times = a.callTimes;
    times.push(event.time);
    while (a.callTimesStart < times.length && times[a.callTimesStart]! <= event.time - 60_000) a.callTimesStart++;
    if (a.callTimesStart > 1024) {
      times.splice(0, a.callTimesStart);
      a.callTimesStart = 0;
    }
    a.streak = a.lastTool === tool ? a.streak + 1 : 1;
    a.lastTool = tool;
    if (event.call !== undefined && a.callArgs.size < 4096) a.callArgs.set(event.call, args);
    const budget = new AnalysisBudget();
    const scan = scanArgs(args, budget);
    const { targets } = scan;
    const content = budget.exceeded === undefined ? contentTexts(a, scan, budget, fragmentFields) : { texts: scan.strings, once: [], quiet: [] };
    const texts = content.once.length + content.quiet.length === 0 ? content.texts : [...content.texts, ...content.once, ...content.quiet];
    const net: Record<TargetKind, string[]> = { host: [], url: [], email: [], account: [], ip: [], local: [] };
    const all: string[] = [];
    for (const t of targets.values()) {
      net[t.kind].push(t.value);
      // A local file or socket is no counterparty.
      if (t.kind !== 'local') all.push(t.value);
    }
    const labels = withSecretPieces(a, labelValues(content.texts, content.once), texts);
    const prov = provenanceFor(a, scan, texts, p.sideEffecting, fragmentFields);
    const info = session.tools.get(tool);
    return {
      kind,
      ctx: ctxOf({
        call: { tool, args, index: event.call ?? -1, server: a.server },
        tool: {
          name: tool, known: session.tools.has(tool), approved, side_effecting: p.sideEffecting, read_only: p.readOnly, categories: p.categories,
          description: info?.description ?? '', annotations: info?.annotations ?? {}, requested: requestedBy(session.intent.purpose ?? '', tool, info?.description),
        },
        net: { hosts: net.host, urls: net.url, emails: net.email, accounts: net.account, ips: net.ip, locals: net.local, targets: all },
        data: { labels: labels.labels, kinds: labels.kinds, sensitivity: labels.sensitivity },
        provenance: prov.ctx,
      }),
      argSources: prov.sources,
      ...(budget.exceeded !== undefined && { overBudget: budget.exceeded }),
    };
  }

  if (kind === 'tool_result' || kind === 'response') {
    const full = resultFull(event);
    const budget = new AnalysisBudget();
    // Over the budget, nothing is analysed: the result is withheld (overBudget), never delivered unscanned.
    const text = budget.read(full.length) ? full : '';
    const injection = detectInjection(text);
    const labels = labelsWithDecoded(text, budget);
    if (labels.labels.includes('secret') || labels.labels.includes('credential')) a.secrets.add(text);
    const injected = instructionLike(injection.score);
    const tool = event.tool ?? event.method ?? '';
    const p = event.tool ? profile(a, session, event.tool) : undefined;
    a.injectionSeen ||= injected;
    a.untrustedSeen ||= injected || Boolean(p?.categories.includes('network')) || Boolean(session.tools.get(tool)?.annotations?.openWorldHint);
    a.maxSensitivity = maxSens(a.maxSensitivity, labels.sensitivity);
    const ctx = ctxOf({
      call: { tool, args: (event.call !== undefined ? a.callArgs.get(event.call) : undefined) ?? {}, index: event.call ?? -1, server: a.server },
      tool: {
        name: tool, known: session.tools.has(tool), approved: session.intent.tools === '*' || session.intent.tools.some((t) => t.name === tool),
        side_effecting: p?.sideEffecting ?? false, read_only: p?.readOnly ?? true, categories: p?.categories ?? [],
        description: session.tools.get(tool)?.description ?? '', annotations: session.tools.get(tool)?.annotations ?? {},
      },
      result: {
        text, is_error: event.kind === 'error' || (isObject(event.result) && event.result.isError === true),
        labels: labels.labels, kinds: labels.kinds, sensitivity: labels.sensitivity,
        injection: injected, injection_score: injection.score, injection_families: injection.families,
      },
    });
    const source = { call: event.call ?? -1, tool, seq: event.seq, time: event.time, injected, sensitivity: labels.sensitivity, flows: new Set<string>() };
    if (budget.exceeded !== undefined) return { kind, ctx, overBudget: budget.exceeded };
    return { kind, ctx, source, resultText: text };
  }

  if (kind === 'tools_list') {
    const listed = isObject(event.result) && Array.isArray(event.result.tools) ? event.result.tools.filter(isObject) : [];
    const changed: string[] = [], added: string[] = [], injected: string[] = [];
    a.listCount++;
    for (const t of listed) {
      const name = String(t.name ?? '');
      const digest = JSON.stringify([t.description ?? '', t.inputSchema ?? null, t.annotations ?? null]);
      const before = a.toolDigests.get(name);
      if (before !== undefined && before !== digest) changed.push(name);
      if (a.listCount === 1) a.firstListTools.add(name);
      else if (!a.firstListTools.has(name)) added.push(name);
      if (a.toolDigests.size < 4096) a.toolDigests.set(name, digest);
      const described = `${String(t.description ?? '')}\n${JSON.stringify(t.inputSchema ?? '')}`;
      if (instructionLike(detectInjection(described).score)) injected.push(name);
      a.profiles.delete(name);
      for (const w of nameWords(name)) if (a.toolWords.size < 4096) a.toolWords.add(toolNameWord(w));
      a.purposeWords = undefined;
    }
    return { kind, ctx: ctxOf({ tools_list: { changed, added_after_first: added, injected } }) };
  }

  if (kind === 'server_request') {
    a.serverRequests++;
    const params = (event.raw as { params?: unknown }).params;
    const text = collectStrings(params, [], { left: 64 * 1024 }).join('\n');
    const schemaText = isObject(params) && isObject(params.requestedSchema) ? JSON.stringify(params.requestedSchema) : '';
    return {
      kind,
      ctx: ctxOf({
        request: {
          method: event.method ?? '', text, injection: instructionLike(detectInjection(text).score),
          asks_secret: event.method === 'elicitation/create' && SECRET_ASK.test(`${text}\n${schemaText}`),
        },
      }),
    };
  }
  return { kind, ctx: ctxOf({}) };
}

/**
 * A call carrying a piece of a secret an earlier result held (8+ characters of it, alone or joined with
 * what went to the same destination before) sends that secret: labelled so from the first piece, not
 * only once the whole has left.
 */
function withSecretPieces(a: Analysis, labels: LabelReport, texts: readonly string[]): LabelReport {
  if (labels.sensitivity === 'secret' || !a.secrets.carried(texts)) return labels;
  return { labels: [...new Set([...labels.labels, 'secret' as const])].sort(), kinds: [...labels.kinds, 'secret-piece'], sensitivity: 'secret' };
}

/** Labels of a text and of what it decodes to (a base64-encoded key is still a secret). */
function labelsWithDecoded(text: string, budget: AnalysisBudget): ReturnType<typeof labelText> {
  const plain = labelText(text);
  if (text.length < 16 || plain.sensitivity === 'secret') return plain;
  const decoded = budget.spendLayers(decodedLayers(text));
  // The text itself is labelled once (above); its readings are merged in.
  return decoded.length === 0 ? plain : labelValues(decoded, [], plain);
}

/** After the rules ran on a result: index it so later calls can trace their arguments to it. */
export function indexResult(a: Analysis, ec: EventContext): void {
  if (!ec.source || ec.resultText === undefined) return;
  const targets = extractTargets(ec.resultText);
  a.prov.add(ec.source, ec.resultText, targets.values());
  if (targets.size === 0) return;
  a.purposeWords ??= purposeWords(typeof a.intentCtx.purpose === 'string' ? a.intentCtx.purpose : '', a.toolWords);
  for (const k of steeredTargets(ec.resultText, a.purposeWords)) {
    a.steeringSeen = true;
    if (a.steered.size < 4096) a.steered.add(k);
  }
}
