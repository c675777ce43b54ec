import { Environment } from '@marcbachmann/cel-js';
import picomatch from 'picomatch';
import { RE2JS } from 're2js';
import { hostInZone } from '../analyze/host-zone.js';
import { sensitivityRank } from '../analyze/labels.js';
import { ROOTS, knownPath } from './vocabulary.js';

/** A compiled rule expression: call it with the event context. */
export type Compiled = (ctx: Record<string, unknown>) => unknown;

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

/** The CEL environment: the vocabulary roots as dynamic maps, and intentguard's closed function table. */
export function createEnvironment(extraVariables: readonly string[] = []): Environment {
  let env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false, limits: { maxAstNodes: 2000, maxDepth: 64 } });
  for (const root of ROOTS) env = env.registerVariable(root, 'map');
  for (const v of extraVariables) env = env.registerVariable(v, 'map');
  return env
    .registerFunction('re2(string, string): bool', (text: string, pattern: string) => compileRe2(pattern).matcher(text).find())
    .registerFunction('glob(string, string): bool', (text: string, pattern: string) => compileGlob(pattern)(text))
    .registerFunction('host_in(string, list): bool', (host: string, zones: unknown[]) => zones.some((z) => typeof z === 'string' && hostInZone(host, z)))
    .registerFunction('all_in_zones(list, list): bool', (hosts: unknown[], zones: unknown[]) =>
      hosts.every((h) => typeof h === 'string' && zones.some((z) => typeof z === 'string' && hostInZone(h, z))))
    .registerFunction('sensitivity_at_least(string, string): bool', (level: string, min: string) => sensitivityRank(level) >= sensitivityRank(min))
    .registerFunction('hour_between(double, int, int): bool', (hour: number, from: bigint, to: bigint) => {
      const f = Number(from), t = Number(to);
      return f <= t ? hour >= f && hour < t : hour >= f || hour < t;
    })
    .registerFunction('contains_any(string, list): bool', (text: string, needles: unknown[]) => {
      const lower = text.toLowerCase();
      return needles.some((n) => typeof n === 'string' && n !== '' && lower.includes(n.toLowerCase()));
    })
    .registerFunction('intersects(list, list): bool', (a: unknown[], b: unknown[]) => a.some((x) => b.includes(x)));
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

/** The field path of a `.` chain rooted at a vocabulary name (`tool.side_effecting` → ['tool', 'side_effecting']). */
function fieldPath(node: unknown): string[] | undefined {
  const { base: cur, path } = unwind(node);
  if (!isNode(cur) || cur.op !== 'id' || !ROOTS.has(cur.args as string) || cur.args === 'macros' || cur.args === 'lists') return undefined;
  path.unshift(cur.args as string);
  return path.length > 1 ? path : undefined;
}

const read = (ctx: Record<string, unknown>, path: readonly string[]): unknown => {
  let v: unknown = ctx;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
};

/**
 * A cheap JS pre-check for `A && …` where A is a boolean field, its negation, or `'x' in list`: when A
 * is certainly false the whole expression is false (CEL's `&&` is false whenever either side is), so
 * the CEL evaluator need not run. Returns undefined when no such prefix exists.
 */
function guardOf(ast: unknown): ((ctx: Record<string, unknown>) => boolean) | undefined {
  if (!isNode(ast)) return undefined;
  // `A || B`: false only when both sides are certainly false.
  if (ast.op === '||') {
    const [a, b] = ast.args as [unknown, unknown];
    const ga = guardOf(a), gb = guardOf(b);
    return ga && gb ? (ctx) => ga(ctx) || gb(ctx) : undefined;
  }
  // `A && …`: false whenever A is.
  if (ast.op === '&&') return guardOf((ast.args as unknown[])[0]);
  return atomGuard(ast);
}

/** A pre-check for one simple condition: true means "may hold", false means "certainly false". */
function atomGuard(node: AstNode): ((ctx: Record<string, unknown>) => boolean) | undefined {
  if (node.op === '.') {
    const path = fieldPath(node);
    return path && ((ctx) => read(ctx, path) !== false);
  }
  if (node.op === '!_') {
    const path = fieldPath(node.args);
    return path && ((ctx) => read(ctx, path) !== true);
  }
  if (node.op === 'in') {
    const [needle, hay] = node.args as [unknown, unknown];
    const path = fieldPath(hay);
    if (!path || !isNode(needle) || needle.op !== 'value' || typeof needle.args !== 'string') return undefined;
    const lit = needle.args;
    return (ctx) => {
      const v = read(ctx, path);
      return !Array.isArray(v) || v.includes(lit);
    };
  }
  if (node.op === '>' || node.op === '>=') {
    const [left, right] = node.args as [unknown, unknown];
    if (!isNode(right) || right.op !== 'value' || (typeof right.args !== 'number' && typeof right.args !== 'bigint')) return undefined;
    const lit = Number(right.args);
    const strict = node.op === '>';
    // `size(path) > n`
    if (isNode(left) && left.op === 'call' && (left.args as [string, unknown[]])[0] === 'size') {
      const path = fieldPath((left.args as [string, unknown[]])[1][0]);
      return path && ((ctx) => {
        const v = read(ctx, path);
        return !Array.isArray(v) || (strict ? v.length > lit : v.length >= lit);
      });
    }
    // `path >= n`
    const path = fieldPath(left);
    return path && ((ctx) => {
      const v = read(ctx, path);
      return typeof v !== 'number' || (strict ? v > lit : v >= lit);
    });
  }
  return undefined;
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
  const guard = guardOf(parsed.ast);
  return guard ? (ctx) => (guard(ctx) ? parsed(ctx) : false) : parsed;
}
