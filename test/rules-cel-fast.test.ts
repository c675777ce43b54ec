// The compiled rule closures (src/rules/cel-fast.ts) against the CEL evaluator they stand in for: on
// random contexts (right types, wrong types, missing keys, Maps, nulls), whenever a closure answers
// without bailing, CEL gives the same value and no error. Every expression of the shipped pack is
// checked, plus expressions exercising each operator the compiler handles.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { BAIL, compileFast } from '../src/rules/cel-fast.js';
import { FUNCTION_SPECS, compileExpression, createEnvironment } from '../src/rules/cel.js';
import { SHIPPED_RULES_DIR } from '../src/rules/pack.js';
import { VOCABULARY } from '../src/rules/vocabulary.js';

/** Every CEL text in the shipped pack (conditions, exceptions, steps, flow ends, macros). */
function packExpressions(): { text: string; extra: string[] }[] {
  const out: { text: string; extra: string[] }[] = [];
  for (const f of readdirSync(SHIPPED_RULES_DIR).filter((n) => n.endsWith('.yaml'))) {
    const doc = parse(readFileSync(join(SHIPPED_RULES_DIR, f), 'utf8')) as Record<string, never>;
    const add = (text: unknown, extra: string[] = []) =>
      typeof text === 'string' && out.push({ text, extra });
    for (const m of Object.values((doc.macros ?? {}) as Record<string, string>)) add(m);
    const rule = doc as Record<string, Record<string, unknown> | undefined>;
    add(rule.match?.when);
    add(rule.rate?.when);
    add((rule.flow?.from as { when?: string } | undefined)?.when);
    add((rule.flow?.to as { when?: string } | undefined)?.when);
    for (const x of (doc.exceptions ?? []) as { when: string }[]) add(x.when);
    const steps = (rule.sequence?.steps ?? []) as { as: string; when?: string }[];
    steps.forEach((s, i) =>
      add(
        s.when,
        steps.slice(0, i).map((p) => p.as),
      ),
    );
  }
  return out;
}

const OPERATORS = [
  "tool.side_effecting && !tool.approved || 'egress' in tool.categories",
  'size(net.hosts) + size(net.ips) > 0',
  'net.hosts + net.ips == net.targets',
  "intent.purpose + 'x' == 'x'",
  'session.calls + session.side_effect_calls >= 3.0',
  'session.calls > 2',
  'session.calls == 2',
  "intent.sensitivity != ''",
  '-session.calls < -1.0',
  'has(tool.annotations.readOnlyHint) && tool.annotations.readOnlyHint == true',
  "provenance.targets.exists(t, t.from_injected && t.kind == 'host')",
  "provenance.targets.exists(t, t.kind in ['host', 'url'])",
  'intersects(tool.categories, data.labels)',
  "sensitivity_at_least(result.sensitivity, 'confidential')",
  'hour_between(time.hour, 6, 22)',
  "contains_any(intent.purpose, ['pay', 'send'])",
  "re2(call.tool, '^send_')",
  "call.args.to == 'a@b.test'",
  'call.args.constructor == 1.0',
  'macros.a || macros.b',
  'lists.always_allowed_tools == []',
  'result.injection',
];

// A deterministic PRNG (mulberry32), so a failure reproduces.
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = [
  '',
  'x',
  'host',
  'url',
  'egress',
  'write',
  'network',
  'secret',
  'credential',
  'confidential',
  'public',
  'sampling/createMessage',
  'a@b.test',
  'code-execution',
  'privilege',
  'destructive',
  'sensitive-read',
  'financial',
];

function valueOf(type: string, r: () => number): unknown {
  const p = r();
  // One value in eight is of another type (or a Map, null, a function): CEL decides those.
  if (p < 0.125) {
    const odd: unknown[] = [
      null,
      1,
      2n,
      'true',
      [],
      {},
      new Map([['k', 1]]),
      () => 1,
      undefined,
      new Set(['x']),
    ];
    return odd[Math.floor(r() * odd.length)];
  }
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  switch (type) {
    case 'bool':
      return r() < 0.5;
    case 'double':
      return pick([0, 1, 2, 3, 0.8, 20, -1, 5.5, 1e9]);
    case 'string':
      return pick(STRINGS);
    case 'list<string>':
      return Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.05 ? 7 : pick(STRINGS)));
    case 'list<double>':
      return Array.from({ length: Math.floor(r() * 3) }, () => pick([1, 2, 3]));
    case 'list<map>':
      return Array.from({ length: Math.floor(r() * 3) }, () => ({
        from_injected: r() < 0.5,
        in_intent: r() < 0.5,
        kind: pick(['host', 'url', 'ip', 'email']),
        ...(r() < 0.1 && { kind: 3 }),
      }));
    default:
      return Object.fromEntries(
        ['to', 'readOnlyHint', 'openWorldHint', 'constructor']
          .filter(() => r() < 0.5)
          .map((k) => [k, r() < 0.5 ? r() < 0.5 : pick(STRINGS)]),
      );
  }
}

function randomContext(r: () => number, extra: readonly string[]): Record<string, unknown> {
  const ctx: Record<string, unknown> = {};
  for (const [path, doc] of Object.entries(VOCABULARY)) {
    if (r() < 0.04) continue; // a missing key
    const [root, ...rest] = path.split('.');
    let o = (ctx[root!] ??= {}) as Record<string, unknown>;
    for (const k of rest.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
    o[rest[rest.length - 1]!] = valueOf(doc.type, r);
  }
  ctx.lists = { always_allowed_tools: valueOf('list<string>', r), global_zones: valueOf('list<string>', r) };
  const macros: Record<string, unknown> = {};
  for (const name of [
    'egress',
    'spreads',
    'requested_within_approval',
    'sensitive_result',
    'side_effect',
    'a',
    'b',
  ])
    if (r() < 0.95) macros[name] = r() < 0.9 ? r() < 0.5 : valueOf('string', r);
  ctx.macros = macros;
  for (const name of extra) ctx[name] = r() < 0.9 ? { ...ctx } : 'not a map';
  if (r() < 0.03) ctx.tool = new Map([['approved', true]]);
  return ctx;
}

const show = (ctx: unknown): string =>
  JSON.stringify(ctx, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? 'Map' : v));
const same = (a: unknown, b: unknown): boolean => {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
};

type Outcome = { value: unknown } | { error: true };
const outcome = (f: () => unknown): Outcome => {
  try {
    return { value: f() };
  } catch {
    return { error: true };
  }
};

describe('compiled rule expressions answer as the CEL evaluator does', () => {
  const cases = [...packExpressions(), ...OPERATORS.map((text) => ({ text, extra: [] as string[] }))];

  it('every shipped pack expression compiles (no expression is left to the slow path)', () => {
    const left = packExpressions().filter(({ text, extra }) => {
      const env = createEnvironment(extra);
      const parsed = env.parse(text) as unknown as { ast: unknown };
      return compileFast(parsed.ast, FUNCTION_SPECS) === undefined;
    });
    assert.deepEqual(
      left.map((c) => c.text),
      [],
    );
  });

  it('on random contexts: the closure answers exactly when it answers; the wrapped expression always matches CEL', () => {
    const r = prng(12);
    let answered = 0,
      total = 0;
    for (const { text, extra } of cases) {
      const env = createEnvironment(extra);
      const parsed = env.parse(text) as unknown as ((ctx: Record<string, unknown>) => unknown) & {
        ast: unknown;
      };
      const fast = compileFast(parsed.ast, FUNCTION_SPECS);
      assert.ok(fast, `not compiled: ${text}`);
      const wrapped = compileExpression(env, text, extra);
      for (let i = 0; i < 400; i++) {
        const ctx = randomContext(r, extra);
        const ref = outcome(() => parsed(ctx));
        total++;
        let got: unknown;
        try {
          got = fast(ctx);
        } catch (e) {
          if (e !== BAIL && !(e instanceof Error)) throw e;
          const via = outcome(() => wrapped(ctx));
          if (!same(via, ref)) assert.fail(`wrapped ${text} on ${show(ctx)}: ${show(via)} vs ${show(ref)}`);
          continue;
        }
        answered++;
        if (!same({ value: got }, ref)) assert.fail(`${text} on ${show(ctx)}: ${show(got)} vs ${show(ref)}`);
      }
    }
    // The closures answer most contexts themselves (else the test would check little).
    assert.ok(answered > total * 0.5, `answered ${answered} of ${total}`);
  });
});
