/**
 * Rule expressions compiled to plain JavaScript closures, once, at load. The CEL evaluator
 * (`@marcbachmann/cel-js`) walks the expression tree and checks runtime types at every node on every
 * event; the pack's conditions are field reads, `!`, `&&`, `||`, comparisons, `in`, `size()`, `has()`
 * and intentguard's functions, which need none of that when the values have the types the vocabulary
 * gives them.
 *
 * Exactness: a compiled closure only answers when every value it meets has a type it handles exactly
 * as CEL does (booleans for `!`/`&&`/`||`, both sides of a comparison of one JS type, lists of one
 * element type for `in`, plain objects for field reads, present keys). On anything else it throws
 * {@link BAIL} and the caller asks the CEL evaluator, which gives the reference answer or error (a
 * missing key, a mixed-type comparison, a wrong operand). Expressions using anything not listed here
 * (ternaries, arithmetic, receiver calls and macros such as `exists`) are not compiled: CEL runs them.
 * `test/rules-cel-fast.test.ts` checks the closures against the evaluator on random contexts.
 */

/** A compiled expression: the value, or throws {@link BAIL}. */
export type Fast = (ctx: Record<string, unknown>) => unknown;

/** Parameter and result kinds of a registered function, as its CEL signature names them. */
type Kind = 'string' | 'list' | 'double' | 'int' | 'bool';

/** A registered function: its parameter kinds and implementation. */
export interface FunctionSpec {
  readonly params: readonly Kind[];
  readonly impl: (...args: never[]) => unknown;
}

/** Thrown when a value is outside what the closure answers exactly: ask CEL. */
export const BAIL: unique symbol = Symbol('cel-fast bail');

interface Node {
  readonly op: string;
  readonly args: unknown;
}

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && typeof (v as Node).op === 'string';
const hasOwn = Object.prototype.hasOwnProperty;

/** A plain object (what CEL's dynamic field access reads by own key); not a Map, list, class instance or an object with its own `constructor` key. */
const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null) return false;
  const c = (v as { constructor?: unknown }).constructor;
  return c === Object || c === undefined;
};

/** A value CEL represents as is: primitives, null, lists and plain objects. */
const representable = (v: unknown): boolean => {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return true;
    case 'object':
      return v === null || Array.isArray(v) || isPlain(v);
    default:
      return false;
  }
};

const bail = (): never => {
  throw BAIL;
};

const matchesKind = (v: unknown, k: Kind): boolean => {
  switch (k) {
    case 'string':
      return typeof v === 'string';
    case 'list':
      return Array.isArray(v);
    case 'double':
      return typeof v === 'number';
    case 'int':
      return typeof v === 'bigint';
    case 'bool':
      return typeof v === 'boolean';
  }
};

/** Keys an object literal inherits: a read of one needs an own-property check. */
const INHERITED = new Set(Object.getOwnPropertyNames(Object.prototype));
const IDENT = /^[A-Za-z_$][\w$]*$/;

/**
 * Generates the source of one JavaScript expression per node (each read, operator and call written
 * out, so V8 gives every rule's field reads their own inline caches). Literals are JSON-encoded and
 * field names are written as identifiers only when they are identifiers; nothing of the rule text is
 * written out otherwise.
 */
class Generator {
  readonly constants: unknown[] = [];
  temps = 0;
  /** Iteration variables of the enclosing `exists` macros, by CEL name: the JS parameter bound to each. */
  private readonly bound = new Map<string, string>();
  constructor(private readonly fns: ReadonlyMap<string, FunctionSpec>) {}

  temp(): string {
    return `t${this.temps++}`;
  }

  constant(v: unknown): string {
    this.constants.push(v);
    return `C[${this.constants.length - 1}]`;
  }

  /** A field read: a plain object's own, defined key, or bail. */
  read(base: string, key: string, mustBeMap = false): string {
    const o = this.temp(),
      v = this.temp();
    const access = IDENT.test(key) ? `${o}.${key}` : `${o}[${JSON.stringify(key)}]`;
    const own = INHERITED.has(key) ? ` && H.call(${o}, ${JSON.stringify(key)})` : '';
    const check = mustBeMap ? `P(${v})` : `${v} !== undefined`;
    return `((${o} = ${base}) !== null && typeof ${o} === 'object' && (${o}.constructor === Object || ${o}.constructor === undefined) && (${v} = ${access}, ${check})${own} ? ${v} : B())`;
  }

  /** Both operands of a binary node, or undefined when either is left to CEL. */
  pair(args: unknown): [string, string] | undefined {
    const [l, r] = args as [unknown, unknown];
    const a = this.node(l),
      b = this.node(r);
    return a && b ? [a, b] : undefined;
  }

  bool(e: string): string {
    const t = this.temp();
    return `(typeof (${t} = ${e}) === 'boolean' ? ${t} : B())`;
  }

  node(node: unknown): string | undefined {
    if (!isNode(node)) return undefined;
    const { op, args } = node;
    switch (op) {
      case 'value': {
        const v = args;
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null) return this.constant(v);
        return undefined;
      }
      case 'id': {
        const bound = this.bound.get(args as string);
        if (bound !== undefined) return bound;
        // Every root is a map variable (the vocabulary's roots, lists, macros, a sequence's step names).
        return this.read('ctx', args as string, true);
      }
      case '+': {
        const p = this.pair(args);
        return p && `ADD(${p[0]}, ${p[1]})`;
      }
      case '.': {
        const [obj, key] = args as [unknown, unknown];
        const base = this.node(obj);
        return base && typeof key === 'string' ? this.read(base, key) : undefined;
      }
      case '!_': {
        const a = this.node(args);
        return a && `!${this.bool(a)}`;
      }
      case '-_': {
        const a = this.node(args);
        return a && `NEG(${a})`;
      }
      case '&&':
      case '||': {
        const p = this.pair(args);
        return p && `(${this.bool(p[0])} ${op} ${this.bool(p[1])})`;
      }
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const p = this.pair(args);
        if (!p) return undefined;
        const [a, b] = p;
        const x = this.temp(),
          y = this.temp(),
          k = this.temp();
        const js = op === '==' ? '===' : op === '!=' ? '!==' : op;
        // Equality: one scalar type on both sides; order: numbers (one kind) or strings.
        const types = op === '==' || op === '!=' ? `(${k} === 'string' || ${k} === 'number' || ${k} === 'bigint' || ${k} === 'boolean')` : `(${k} === 'string' || ${k} === 'number' || ${k} === 'bigint')`;
        return `(${x} = ${a}, ${y} = ${b}, ${k} = typeof ${x}, ${k} === typeof ${y} && ${types} ? ${x} ${js} ${y} : B())`;
      }
      case 'in': {
        const p = this.pair(args);
        return p && `IN(${p[0]}, ${p[1]})`;
      }
      case 'list': {
        const items = (args as unknown[]).map((x) => this.node(x));
        if (items.some((x) => x === undefined)) return undefined;
        return `[${items.map((e) => `R(${e})`).join(', ')}]`;
      }
      case 'call':
        return this.call(args as [string, unknown[]]);
      case 'rcall':
        return this.exists(args as [string, unknown, unknown[]]);
      default:
        return undefined;
    }
  }

  /** `list.exists(x, cond)`: the first element for which cond is true; cond must be a bool for every element visited. */
  exists([name, receiver, callArgs]: [string, unknown, unknown[]]): string | undefined {
    if (name !== 'exists' || !Array.isArray(callArgs) || callArgs.length !== 2) return undefined;
    const [variable, cond] = callArgs as [unknown, unknown];
    if (!isNode(variable) || variable.op !== 'id' || typeof variable.args !== 'string') return undefined;
    const list = this.node(receiver);
    if (!list) return undefined;
    const param = `e${this.temps++}`;
    const before = this.bound.get(variable.args);
    this.bound.set(variable.args, param);
    const body = this.node(cond);
    if (before === undefined) this.bound.delete(variable.args);
    else this.bound.set(variable.args, before);
    if (!body) return undefined;
    return `EXISTS(${list}, (${param}) => ${this.bool(body)})`;
  }

  call([name, callArgs]: [string, unknown[]]): string | undefined {
    if (!Array.isArray(callArgs)) return undefined;
    if (name === 'size' && callArgs.length === 1) {
      const a = this.node(callArgs[0]);
      return a && `SIZE(${a})`;
    }
    if (name === 'has' && callArgs.length === 1) {
      const target = callArgs[0];
      if (!isNode(target) || target.op !== '.') return undefined;
      const [obj, key] = target.args as [unknown, unknown];
      const base = this.node(obj);
      return base && typeof key === 'string' ? `HAS(${base}, ${JSON.stringify(key)})` : undefined;
    }
    const spec = this.fns.get(name);
    if (!spec || spec.params.length !== callArgs.length) return undefined;
    const compiled = callArgs.map((x) => this.node(x));
    if (compiled.some((x) => x === undefined)) return undefined;
    return `FN(${this.constant(spec)}, [${compiled.join(', ')}])`;
  }
}

/** `needle in list` for a string needle and a list of strings; anything else is CEL's to answer. */
function inList(needle: unknown, list: unknown): boolean {
  if (!Array.isArray(list) || typeof needle !== 'string') return bail();
  for (const x of list) {
    if (typeof x !== 'string') return bail();
    if (x === needle) return true;
  }
  return false;
}

const INT64 = 2n ** 63n;

/** `+` on two lists or two strings (concatenation), two doubles, or two ints within int64. */
function add(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  const t = typeof a;
  if (t !== typeof b) return bail();
  if (t === 'string') return (a as string) + (b as string);
  if (t === 'number') return (a as number) + (b as number);
  if (t === 'bigint') {
    const r = (a as bigint) + (b as bigint);
    return r >= -INT64 && r < INT64 ? r : bail();
  }
  return bail();
}

function negate(v: unknown): unknown {
  if (typeof v === 'number') return -v;
  if (typeof v === 'bigint' && v !== -INT64) return -v;
  return bail();
}

function exists(list: unknown, cond: (x: unknown) => boolean): boolean {
  if (!Array.isArray(list)) return bail();
  for (const x of list) if (cond(representable(x) ? x : bail())) return true;
  return false;
}

const size = (v: unknown): bigint => (Array.isArray(v) ? BigInt(v.length) : bail());

function has(base: unknown, key: string): boolean {
  if (!isPlain(base)) return bail();
  if (!hasOwn.call(base, key)) return false;
  const v = base[key];
  return v === undefined ? false : representable(v) ? true : bail();
}

function callFunction(spec: FunctionSpec, values: unknown[]): boolean {
  for (let i = 0; i < values.length; i++) if (!matchesKind(values[i], spec.params[i]!)) return bail();
  const out = (spec.impl as (...xs: unknown[]) => unknown)(...values);
  return typeof out === 'boolean' ? out : bail();
}

const checked = (v: unknown): unknown => (representable(v) ? v : bail());

/**
 * The closure for a parsed expression, or undefined when it uses something left to CEL. The closure
 * throws {@link BAIL} (or whatever a registered function throws) when CEL must answer instead.
 */
export function compileFast(ast: unknown, functions: ReadonlyMap<string, FunctionSpec>): Fast | undefined {
  const gen = new Generator(functions);
  const body = gen.node(ast);
  if (body === undefined) return undefined;
  const temps = Array.from({ length: gen.temps }, (_, i) => `t${i}`);
  const source = `${temps.length > 0 ? `let ${temps.join(', ')};\n` : ''}return R(${body});`;
  const make = new Function('C', 'B', 'H', 'P', 'R', 'IN', 'SIZE', 'HAS', 'FN', 'ADD', 'EXISTS', 'NEG', `return (ctx) => {\n${source}\n};`) as (...deps: unknown[]) => Fast;
  return make(gen.constants, bail, hasOwn, isPlain, checked, inList, size, has, callFunction, add, exists, negate);
}
