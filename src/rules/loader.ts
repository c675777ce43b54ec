import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Document, Node as YamlNode } from 'yaml';
import { LineCounter, isMap, isScalar, parseDocument } from '../lib/yaml.js';
import { IntentGuardError, type ErrorCode } from '../errors.js';
import { parseDuration } from '../lib/duration.js';
import { ExpressionError, compileExpression, createEnvironment, type Compiled } from './cel.js';
import { DEFS_SCHEMA, OVERRIDE_SCHEMA, RULE_SCHEMA } from './schema.js';
import type { CompiledRule, CompiledStep, EventKindName, RuleSet } from './types.js';

/** A rule file problem, located at file:line:col. */
export class RuleLoadError extends IntentGuardError {
  constructor(code: ErrorCode, readonly file: string, readonly line: number, readonly col: number, detail: string) {
    super(code, `${file}:${line}:${col}: ${code}: ${detail}`, { file, line, col });
  }
}

interface Located {
  readonly file: string;
  readonly text: string;
  /** The document's value; `checked` when it comes from a precompiled pack (parsed and schema-checked at build time). */
  readonly value: Doc;
  readonly checked: boolean;
  /** The parsed document, for locating problems (parsed on first use for a precompiled file). */
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

// validateSchema: false — checking our own constant schemas against the JSON Schema meta-schema compiled the
// meta-schema at every start (≈ 150 ms of a stdio proxy's start-up); test/rules-schema.test.ts checks them once.
// Strict mode still refuses unknown keywords as each schema compiles. Loaded and compiled on first use: a
// start on the precompiled shipped pack alone checks no schema (ajv's load and compile were ≈ 300 ms of it).
const load = createRequire(import.meta.url);
let compiled: Record<'rule' | 'defs' | 'override', ValidateFunction> | undefined;
const validators = () => {
  if (compiled) return compiled;
  const ajv = new (load('ajv') as typeof import('ajv')).Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true, validateSchema: false });
  return (compiled = { rule: ajv.compile(RULE_SCHEMA), defs: ajv.compile(DEFS_SCHEMA), override: ajv.compile(OVERRIDE_SCHEMA) });
};

function nodeAt(doc: Document.Parsed, path: readonly (string | number)[]): YamlNode | undefined {
  let node: unknown = doc.contents;
  let last: unknown = node;
  for (const key of path) {
    if (!node || typeof node !== 'object' || !('get' in node)) break;
    node = (node as { get(k: unknown, keep: true): unknown }).get(key, true);
    if (node) last = node;
  }
  return last as YamlNode | undefined;
}

function position(src: { readonly lines: LineCounter }, offset: number): { line: number; col: number } {
  const p = src.lines.linePos(offset);
  return { line: p.line, col: p.col };
}

function fail(src: Located, code: ErrorCode, path: readonly (string | number)[], detail: string, offset?: number): never {
  const node = nodeAt(src.doc, path);
  const at = offset ?? node?.range?.[0] ?? 0;
  const { line, col } = position(src, at);
  throw new RuleLoadError(code, src.file, line, col, detail);
}

function schemaFail(src: Located, errors: ErrorObject[] | null | undefined): never {
  const e = errors?.[0];
  const path = (e?.instancePath ?? '').split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const extra = e?.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : '';
  const allowed = e?.params && 'allowedValues' in e.params ? ` (one of: ${(e.params.allowedValues as unknown[]).join(', ')})` : '';
  const where = path.length ? path.join('.') : 'document';
  return fail(src, 'ERR_RULE_SCHEMA', [...path, ...(extra ? [String(e!.params.additionalProperty)] : [])], `${where} ${e?.message ?? 'is invalid'}${extra}${allowed}`);
}

/** Map an offset inside an expression's value back to the file, for plain, quoted and block scalars. */
function expressionOffset(src: Located, path: readonly (string | number)[], value: string, pos: number): number | undefined {
  const node = nodeAt(src.doc, path);
  if (!node || !isScalar(node) || !node.range) return undefined;
  const [start, end] = node.range;
  const raw = src.text.slice(start, end);
  if (node.type === 'PLAIN') return start + pos;
  if (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') return start + 1 + pos;
  for (const len of [24, 12, 6, 3]) {
    const probe = value.slice(pos, pos + len).split('\n')[0]!;
    if (probe.trim().length === 0) continue;
    const i = raw.indexOf(probe);
    if (i >= 0) return start + i;
  }
  return start;
}

type Env = ReturnType<typeof createEnvironment>;

function compileAt(src: Located, env: Env, path: readonly (string | number)[], text: string, extra: readonly string[] = []): Compiled {
  try {
    return compileExpression(env, text, extra);
  } catch (e) {
    if (e instanceof ExpressionError) return fail(src, e.code, path, e.message, expressionOffset(src, path, text, e.pos));
    throw e;
  }
}

const kinds = (on: unknown): EventKindName[] => (Array.isArray(on) ? on : [on]) as EventKindName[];

function parse(text: string): { doc: Document.Parsed; lines: LineCounter } {
  const lines = new LineCounter();
  return { doc: parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false }), lines };
}

function read(text: string, label: string): Located {
  const { doc, lines } = parse(text);
  const located = { file: label, text, doc, lines };
  const err = doc.errors[0];
  if (err) {
    const { line, col } = position(located, err.pos[0]);
    throw new RuleLoadError('ERR_RULE_PARSE', label, line, col, err.message.split('\n')[0] ?? 'YAML error');
  }
  if (!isMap(doc.contents)) throw new RuleLoadError('ERR_RULE_SCHEMA', label, 1, 1, 'a rule file must be a YAML mapping');
  return { ...located, value: doc.toJS() as Doc, checked: false };
}

/** A file of a precompiled pack: its value as checked at build time; parsed again only to locate a problem. */
function precompiled(text: string, label: string, value: Doc): Located {
  let parsed: ReturnType<typeof parse> | undefined;
  return {
    file: label,
    text,
    value,
    checked: true,
    get doc() {
      return (parsed ??= parse(text)).doc;
    },
    get lines() {
      return (parsed ??= parse(text)).lines;
    },
  };
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'tests' && name !== 'fixtures') walk(p);
      } else if (/\.ya?ml$/.test(name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** A parsed YAML document, read by key; every key is checked before use (schema.ts, then here). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- checked key by key
type Doc = Record<string, any>;

function compileRule(src: Located, r: Doc, env: Env): CompiledRule {
  const action = r.action;
  const base = {
    id: r.id as string, title: r.title as string, description: String(r.description).trim(), severity: r.severity, status: r.status ?? 'experimental',
    tags: r.tags ?? [], references: r.references ?? {}, action,
    onError: (r.on_error ?? (action === 'alert' ? 'skip' : 'fail_closed')) as 'fail_closed' | 'skip',
    exceptions: (r.exceptions ?? []).map((x: { name: string; when: string }, i: number) => ({ name: x.name, when: compileAt(src, env, ['exceptions', i, 'when'], x.when) })),
    message: r.message ?? r.title, redact: r.redact ?? [], file: src.file, enabled: r.enabled ?? true,
  };
  if (r.match) return { ...base, kind: 'match', on: kinds(r.match.on), when: compileAt(src, env, ['match', 'when'], r.match.when) };
  if (r.rate) {
    return {
      ...base, kind: 'rate', on: kinds(r.rate.on), threshold: r.rate.threshold, withinMs: parseDuration(r.rate.within),
      when: r.rate.when === undefined ? undefined : compileAt(src, env, ['rate', 'when'], r.rate.when),
    };
  }
  if (r.flow) {
    return {
      ...base, kind: 'flow', withinMs: parseDuration(r.flow.within),
      from: { on: kinds(r.flow.from.on), when: r.flow.from.when === undefined ? undefined : compileAt(src, env, ['flow', 'from', 'when'], r.flow.from.when) },
      to: { on: kinds(r.flow.to.on), when: r.flow.to.when === undefined ? undefined : compileAt(src, env, ['flow', 'to', 'when'], r.flow.to.when) },
    };
  }
  const names: string[] = [];
  const steps: CompiledStep[] = (r.sequence.steps as { as: string; on: unknown; when?: string }[]).map((s, i) => {
    if (names.includes(s.as)) fail(src, 'ERR_RULE_SCHEMA', ['sequence', 'steps', i, 'as'], `step name "${s.as}" is used twice`);
    const step: CompiledStep = {
      as: s.as, on: kinds(s.on),
      when: s.when === undefined ? undefined : compileAt(src, createEnvironment([...names]), ['sequence', 'steps', i, 'when'], s.when, [...names]),
    };
    names.push(s.as);
    return step;
  });
  return { ...base, kind: 'sequence', withinMs: parseDuration(r.sequence.within), maxPending: r.sequence.max_pending ?? 8, steps };
}

const STRENGTH = { skip: 0, fail_closed: 1 } as const;

/**
 * A rule directory parsed and schema-checked ahead of time (at build time, for the shipped pack): each
 * file's value by its path under the directory, valid for sources whose {@link sourcesHash} is `hash`.
 */
export interface PrecompiledRules {
  readonly hash: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** What a precompiled directory is valid for: its files (names and texts) and the schemas they were checked with. */
function sourcesHash(names: readonly string[], texts: readonly string[]): string {
  const h = createHash('sha256').update(JSON.stringify([1, RULE_SCHEMA, DEFS_SCHEMA, OVERRIDE_SCHEMA]));
  names.forEach((n, i) => h.update(`\0${n}\0${texts[i]!.length}\0`).update(texts[i]!));
  return h.digest('hex');
}

/** The files of one directory, read; a precompiled value stands in for parsing when the sources are the ones it was made from. */
function readDir(dir: string, pre: PrecompiledRules | undefined): Located[] {
  const paths = yamlFiles(dir);
  const names = paths.map((p) => relative(dir, p));
  const texts = paths.map((p) => readFileSync(p, 'utf8'));
  const usable = pre !== undefined && pre.hash === sourcesHash(names, texts);
  return paths.map((p, i) => {
    const label = relative(process.cwd(), p) || p;
    const value = usable ? pre.values[names[i]!] : undefined;
    return value !== undefined ? precompiled(texts[i]!, label, value as Doc) : read(texts[i]!, label);
  });
}

/**
 * Parse and check a rule directory ahead of time (the build does it for the shipped pack): it must load
 * on its own (schemas and expressions); only values that survive JSON unchanged are kept (the others
 * are parsed at every load).
 */
export function precompileRules(dir: string): PrecompiledRules {
  loadRules([dir]);
  const sources = readDir(dir, undefined);
  const names = yamlFiles(dir).map((p) => relative(dir, p));
  const values: Record<string, unknown> = {};
  sources.forEach((src, i) => {
    if (isDeepStrictEqual(JSON.parse(JSON.stringify(src.value)), src.value)) values[names[i]!] = src.value;
  });
  return { hash: sourcesHash(names, sources.map((s) => s.text)), values };
}

/**
 * Load a rule pack: every `*.yaml` under each directory, in order (the shipped pack first, site
 * overrides after). Compiles every expression once; throws {@link RuleLoadError} with file, line,
 * column and a stable code at the first problem.
 * @example const rules = loadRules(['rules', '/etc/intentguard/rules.d'])
 */
export function loadRules(dirs: readonly string[], precompiledDirs: ReadonlyMap<string, PrecompiledRules> = new Map()): RuleSet {
  const sources = dirs.flatMap((d) => readDir(d, precompiledDirs.get(d)));
  const lists: Record<string, string[]> = {};
  const macroTexts: { src: Located; name: string; text: string }[] = [];
  const ruleDocs: { src: Located; doc: Doc }[] = [];
  const overrides: { src: Located; doc: Doc }[] = [];
  const check = (src: Located, which: 'rule' | 'defs' | 'override') => {
    if (src.checked) return;
    const v = validators()[which];
    if (!v(src.value)) schemaFail(src, v.errors);
  };
  for (const src of sources) {
    const value = src.value;
    if ('override' in value) {
      check(src, 'override');
      overrides.push({ src, doc: value });
    } else if ('lists' in value || 'macros' in value) {
      check(src, 'defs');
      for (const [k, v] of Object.entries(value.lists ?? {})) lists[k] = [...(lists[k] ?? []), ...(v as string[])];
      for (const [k, v] of Object.entries(value.macros ?? {})) macroTexts.push({ src, name: k, text: v as string });
    } else {
      check(src, 'rule');
      ruleDocs.push({ src, doc: value });
    }
  }
  const env = createEnvironment();
  const macros: Record<string, Compiled> = {};
  for (const m of macroTexts) macros[m.name] = compileAt(m.src, env, ['macros', m.name], m.text);
  const rules = new Map<string, CompiledRule>();
  for (const { src, doc } of ruleDocs) {
    if (rules.has(doc.id)) fail(src, 'ERR_RULE_DUPLICATE_ID', ['id'], `rule id ${doc.id} is already defined in ${rules.get(doc.id)!.file}`);
    rules.set(doc.id, compileRule(src, doc, env));
  }
  for (const { src, doc } of overrides) {
    const rule = rules.get(doc.override);
    if (!rule) fail(src, 'ERR_RULE_OVERRIDE', ['override'], `no rule ${doc.override} to override`);
    if (doc.on_error && STRENGTH[doc.on_error as 'skip'] < STRENGTH[rule.onError] && !doc.unsafe_override) {
      fail(src, 'ERR_RULE_OVERRIDE', ['on_error'], `weakening on_error of ${rule.id} needs unsafe_override: true`);
    }
    for (const [k, v] of Object.entries(doc.append_lists ?? {})) lists[k] = [...(lists[k] ?? []), ...(v as string[])];
    rules.set(rule.id, {
      ...rule,
      ...(doc.enabled !== undefined && { enabled: doc.enabled }),
      ...(doc.action && { action: doc.action }),
      ...(doc.severity && { severity: doc.severity }),
      ...(doc.on_error && { onError: doc.on_error }),
      exceptions: [...rule.exceptions, ...(doc.append_exceptions ?? []).map((x: { name: string; when: string }, i: number) => ({ name: x.name, when: compileAt(src, env, ['append_exceptions', i, 'when'], x.when) }))],
    });
  }
  const texts = [...sources.map((src) => src.text)];
  return { rules: [...rules.values()], lists, macros, files: sources.map((src) => src.file), texts };
}
