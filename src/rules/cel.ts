import { Environment } from '@marcbachmann/cel-js';
import picomatch from 'picomatch';
import { RE2JS } from 're2js';
import { hostInZone } from '../analyze/host-zone.js';
import { sensitivityRank } from '../analyze/labels.js';
import { compileFast, type FunctionSpec } from './cel-fast.js';
import { ROOTS, knownPath } from './vocabulary.js';

/**
 * A compiled rule expression: call it with the event context. `guard`, when present, is the part of the
 * expression that reads only what stays fixed for a session (see {@link SESSION_ROOTS}): its top-level
 * `&&` conjuncts over those roots, as an expression of its own. Where the guard is false the whole
 * expression is false (CEL's `&&` is false when any side is, whatever the others give, errors included).
 * A guard reading a tool field answers only for an event of a tool (a call or its result), given the
 * tool's name and approval; elsewhere those fields are absent, the guard throws, and the rule stays.
 */
export interface Compiled {
  (ctx: Record<string, unknown>): unknown;
  readonly guard?: (ctx: Record<string, unknown>) => unknown;
}

/**
 * The roots whose values are fixed for a session while its approval stands: the approval (`intent`,
 * replaced as a whole when it is amended), the verified identity (`principal`) and the rule set's lists;
 * and the fields fixed for one tool under that approval ({@link TOOL_FIELDS}).
 */
const SESSION_ROOTS: ReadonlySet<string> = new Set(['intent', 'principal', 'lists']);
/** A tool call's (and its result's) fields that only the tool's name and the approval decide. */
const TOOL_FIELDS: ReadonlySet<string> = new Set(['tool.name', 'tool.approved', 'call.tool']);

/** Where in the expression text something is wrong. */
export class ExpressionError extends Error {
  constructor(readonly code: 'ERR_RULE_EXPRESSION' | 'ERR_RULE_UNKNOWN_FIELD' | 'ERR_RULE_UNSAFE_REGEX' | 'ERR_RULE_UNKNOWN_FUNCTION', message: string, readonly pos: number) {
    super(message);
  }
}

const re2Cache = new Map<string, RE2JS>();
const compileRe2 = (pattern: string): RE2JS => {
  let re = re2Cache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (re2Cache.size > 4096) re2Cache.clear();
    re2Cache.set(pattern, re);
  }
  return re;
};

const globCache = new Map<string, (s: string) => boolean>();
const compileGlob = (pattern: string) => {
  let m = globCache.get(pattern);
  if (!m) {
    m = picomatch(pattern, { dot: true, nocase: true });
    if (globCache.size > 4096) globCache.clear();
    globCache.set(pattern, m);
  }
  return m;
};

/** intentguard's functions: CEL signature and implementation (registered with CEL, and used by the compiled closures). */
const FUNCTIONS: readonly (readonly [string, (...args: never[]) => unknown])[] = [
  ['re2(string, string): bool', (text: string, pattern: string) => compileRe2(pattern).matcher(text).find()],
  ['glob(string, string): bool', (text: string, pattern: string) => compileGlob(pattern)(text)],
  ['host_in(string, list): bool', (host: string, zones: unknown[]) => zones.some((z) => typeof z === 'string' && hostInZone(host, z))],
  ['all_in_zones(list, list): bool', (hosts: unknown[], zones: unknown[]) =>
    hosts.every((h) => typeof h === 'string' && zones.some((z) => typeof z === 'string' && hostInZone(h, z)))],
  ['sensitivity_at_least(string, string): bool', (level: string, min: string) => sensitivityRank(level) >= sensitivityRank(min)],
  ['hour_between(double, int, int): bool', (hour: number, from: bigint, to: bigint) => {
    const f = Number(from), t = Number(to);
    return f <= t ? hour >= f && hour < t : hour >= f || hour < t;
  }],
  ['contains_any(string, list): bool', (text: string, needles: unknown[]) => {
    const lower = text.toLowerCase();
    return needles.some((n) => typeof n === 'string' && n !== '' && lower.includes(n.toLowerCase()));
  }],
  ['intersects(list, list): bool', (a: unknown[], b: unknown[]) => a.some((x) => b.includes(x))],
];

/** The same functions by name, with their parameter kinds, for {@link compileFast} (exported for its test). */
export const FUNCTION_SPECS: ReadonlyMap<string, FunctionSpec> = new Map(
  FUNCTIONS.map(([signature, impl]) => {
    const [, name, params] = /^(\w+)\(([^)]*)\)/.exec(signature)!;
    return [name!, { params: params!.split(',').map((p) => p.trim()) as FunctionSpec['params'], impl }];
  }),
);

/** The CEL environment: the vocabulary roots as dynamic maps, and intentguard's closed function table. */
export function createEnvironment(extraVariables: readonly string[] = []): Environment {
  let env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false, limits: { maxAstNodes: 2000, maxDepth: 64 } });
  for (const root of ROOTS) env = env.registerVariable(root, 'map');
  for (const v of extraVariables) env = env.registerVariable(v, 'map');
  for (const [signature, impl] of FUNCTIONS) env = env.registerFunction(signature, impl as (...args: unknown[]) => unknown);
  return env;
}

const ALLOWED_FUNCTIONS = new Set([
  // CEL built-ins we allow (no `matches`: it is a backtracking regex in this engine).
  'size', 'has', 'exists', 'all', 'exists_one', 'map', 'filter', 'contains', 'startsWith', 'endsWith', 'lowerAscii', 'upperAscii',
  'int', 'double', 'string', 'bool', 'dyn', 'type', 'indexOf', 'lastIndexOf', 'substring', 'join', 'split', 'trim',
  're2', 'glob', 'host_in', 'all_in_zones', 'sensitivity_at_least', 'hour_between', 'contains_any', 'intersects',
]);
const BINDING_MACROS = new Set(['exists', 'all', 'exists_one', 'map', 'filter']);

interface AstNode {
  op: string;
  args: unknown;
  pos: number;
}

const isNode = (v: unknown): v is AstNode => typeof v === 'object' && v !== null && typeof (v as AstNode).op === 'string';

/** Walk the AST: reject unknown fields, unknown functions and backtracking regexes; pre-compile literal re2 patterns. */
function checkAst(node: unknown, bound: ReadonlySet<string>, extra: ReadonlySet<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) checkAst(n, bound, extra);
    return;
  }
  if (!isNode(node)) return;
  const { op, args } = node;
  if (op === '.' || op === 'id') {
    const { base: cur, path } = unwind(node);
    if (isNode(cur) && cur.op === 'id') {
      const root = cur.args as string;
      if (bound.has(root) || extra.has(root)) return;
      if (root === 'lists' || root === 'macros') return;
      if (!ROOTS.has(root)) throw new ExpressionError('ERR_RULE_UNKNOWN_FIELD', `unknown name "${root}"`, cur.pos);
      if (!knownPath([root, ...path])) throw new ExpressionError('ERR_RULE_UNKNOWN_FIELD', `unknown field "${[root, ...path].join('.')}"`, node.pos);
      return;
    }
    checkAst(cur, bound, extra);
    return;
  }
  if (op === 'rcall' || op === 'call') {
    const [name, a, b] = args as [string, unknown, unknown];
    if (name === 'matches') throw new ExpressionError('ERR_RULE_UNSAFE_REGEX', 'matches() uses a backtracking regex engine; use re2(text, pattern)', node.pos);
    if (!ALLOWED_FUNCTIONS.has(name)) throw new ExpressionError('ERR_RULE_UNKNOWN_FUNCTION', `unknown function ${name}()`, node.pos);
    const callArgs = (op === 'rcall' ? b : a) as unknown[];
    if (op === 'rcall') checkAst(a, bound, extra);
    if (op === 'rcall' && BINDING_MACROS.has(name) && Array.isArray(callArgs) && isNode(callArgs[0]) && callArgs[0].op === 'id') {
      const inner = new Set(bound).add(callArgs[0].args as string);
      checkAst(callArgs.slice(1), inner, extra);
      return;
    }
    if (name === 're2' && Array.isArray(callArgs) && isNode(callArgs[1]) && callArgs[1].op === 'value' && typeof callArgs[1].args === 'string') {
      try {
        compileRe2(callArgs[1].args);
      } catch (e) {
        throw new ExpressionError('ERR_RULE_EXPRESSION', `invalid re2 pattern: ${(e as Error).message}`, callArgs[1].pos);
      }
    }
    checkAst(callArgs, bound, extra);
    return;
  }
  checkAst(args, bound, extra);
}

/** Split a `.` chain into its base node and the field names after it. */
function unwind(node: unknown): { base: unknown; path: string[] } {
  const path: string[] = [];
  let cur: unknown = node;
  while (isNode(cur) && cur.op === '.') {
    const [obj, field] = cur.args as [unknown, string];
    path.unshift(field);
    cur = obj;
  }
  return { base: cur, path };
}

/**
 * Compile a rule expression once: parse, check every field and function against the vocabulary,
 * and return the evaluator closure. Throws {@link ExpressionError} with the offset of the problem.
 */
export function compileExpression(env: Environment, text: string, extraNames: readonly string[] = []): Compiled {
  let parsed: ((ctx: Record<string, unknown>) => unknown) & { ast: unknown };
  try {
    parsed = env.parse(text) as typeof parsed;
  } catch (e) {
    const err = e as Error & { node?: { pos?: number } };
    throw new ExpressionError('ERR_RULE_EXPRESSION', err.message.split('\n')[0] ?? 'parse error', err.node?.pos ?? 0);
  }
  checkAst(parsed.ast, new Set(), new Set(extraNames));
  const compiled = evaluator(parsed);
  // The guard is compiled from the expression's own nodes (never from re-cut text), by the exact
  // compiler only: where it cannot answer exactly it throws, and the rule stays.
  const conjuncts = sessionConjuncts(parsed.ast);
  const guard =
    conjuncts.length === 0
      ? undefined
      : compileFast(
          conjuncts.reduce((left, right) => ({ op: '&&', args: [left, right], pos: left.pos })),
          FUNCTION_SPECS,
        );
  return guard ? Object.assign(compiled, { guard }) : compiled;
}

/**
 * The closure answers what it can answer exactly; anything else (a missing key, a type it does not
 * handle, a function that throws) is asked of the CEL evaluator, which gives the reference answer or error.
 */
function evaluator(parsed: ((ctx: Record<string, unknown>) => unknown) & { ast: unknown }): Compiled {
  const fast = compileFast(parsed.ast, FUNCTION_SPECS);
  // A closure of its own either way (cel-js's function is not ours to add a guard to).
  if (!fast) return (ctx) => parsed(ctx);
  return (ctx) => {
    try {
      return fast(ctx);
    } catch {
      return parsed(ctx);
    }
  };
}

/** The top-level `&&` conjuncts of an expression that read only {@link SESSION_ROOTS} and {@link TOOL_FIELDS}. */
function sessionConjuncts(ast: unknown): AstNode[] {
  const conjuncts: AstNode[] = [];
  const flatten = (n: unknown) => {
    if (isNode(n) && n.op === '&&' && Array.isArray(n.args)) for (const a of n.args) flatten(a);
    else if (isNode(n) && readsOnly(n, SESSION_ROOTS)) conjuncts.push(n);
  };
  flatten(ast);
  return conjuncts;
}

/** Does the expression read no name but these roots (and the variables its own macros bind)? */
function readsOnly(node: unknown, roots: ReadonlySet<string>): boolean {
  if (Array.isArray(node)) return node.every((n) => readsOnly(n, roots));
  if (!isNode(node)) return true;
  const { op, args } = node;
  if (op === 'id') return roots.has(args as string);
  if (op === '.') {
    const { base, path } = unwind(node);
    if (isNode(base) && base.op === 'id' && path.length === 1 && TOOL_FIELDS.has(`${base.args as string}.${path[0]}`))
      return true;
  }
  if (op === 'rcall') {
    const [name, target, callArgs] = args as [string, unknown, unknown[]];
    if (!readsOnly(target, roots)) return false;
    if (BINDING_MACROS.has(name) && Array.isArray(callArgs) && isNode(callArgs[0]) && callArgs[0].op === 'id')
      return readsOnly(callArgs.slice(1), new Set(roots).add(callArgs[0].args as string));
    return readsOnly(callArgs, roots);
  }
  if (op === 'call') return readsOnly((args as [string, unknown])[1], roots);
  return readsOnly(args, roots);
}
