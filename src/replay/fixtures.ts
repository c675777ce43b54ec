import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from '../lib/yaml.js';
import { IntentGuardError } from '../errors.js';
import { parseIntent } from '../intent/parse.js';
import type { Intent } from '../model/intent.js';
import { parseDuration } from '../lib/duration.js';
import { createMonitor } from '../monitor/create.js';
import type { Decision } from '../model/decision.js';
import type { Action } from '../model/policy.js';
import { createReplayClock, replayBundle } from './replay.js';
import { packPolicies } from '../rules/pack.js';
import type { RuleSet } from '../rules/types.js';

/** A parsed fixture file, read by key; each key is checked before use. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- checked key by key
type Doc = Record<string, any>;

/** One step of a fixture session. */
export type FixtureStep =
  | { call: string; args?: Record<string, unknown>; result?: string; error?: boolean; repeat?: number }
  | { tools: (string | { name: string; description?: string; annotations?: Record<string, unknown> })[] }
  | { server_request: { method: string; params?: Record<string, unknown> } }
  | { wait: string };

export interface FixtureExpect {
  readonly fires: boolean;
  readonly action?: Action;
  /** 0-based tools/call index of the first finding of the rule. */
  readonly at_call?: number;
  readonly code?: string;
  readonly message_contains?: string;
}

export interface FixtureCase {
  readonly name: string;
  readonly steps: readonly FixtureStep[];
  readonly expect: FixtureExpect;
  /** Make the rule throw while evaluating: proves it fails closed. */
  readonly fault?: boolean;
  readonly intent?: Intent;
  readonly identity?: { sub: string };
}

export interface FixtureFile {
  readonly rule: string;
  readonly file: string;
  readonly intent: Intent;
  readonly cases: readonly FixtureCase[];
}

const bad = (file: string, why: string): never => {
  throw new IntentGuardError('ERR_RULE_FIXTURE', `${file}: ${why}`, { file });
};

/** Read `rules/**\/tests/*.yaml` fixture files. */
export function loadFixtures(dirs: readonly string[]): FixtureFile[] {
  const out: FixtureFile[] = [];
  for (const dir of dirs) {
    const testDir = join(dir, 'tests');
    if (!existsSync(testDir)) continue;
    for (const name of readdirSync(testDir).sort()) {
      if (!/\.ya?ml$/.test(name)) continue;
      const file = join(testDir, name);
      const doc = parseYaml(readFileSync(file, 'utf8')) as Doc;
      if (!doc || typeof doc.rule !== 'string') bad(file, 'needs `rule: ID`');
      if (!Array.isArray(doc.cases) || doc.cases.length === 0) bad(file, 'needs a non-empty `cases` list');
      const intent = parseIntent(doc.intent);
      const cases = (doc.cases as Doc[]).map((c, i) => {
        if (typeof c.name !== 'string') bad(file, `cases[${i}] needs a name`);
        if (!Array.isArray(c.steps)) bad(file, `case "${c.name}" needs steps`);
        if (!c.expect || typeof c.expect.fires !== 'boolean')
          bad(file, `case "${c.name}" needs expect.fires`);
        return { ...c, ...(c.intent && { intent: parseIntent(c.intent) }) } as FixtureCase;
      });
      out.push({ rule: doc.rule, file, intent, cases });
    }
  }
  return out;
}

/** Turn fixture steps into a recorded session (the bundle format), with event times. */
export function fixtureEvents(
  steps: readonly FixtureStep[],
): { dir: 'c2s' | 's2c'; msg: unknown; t: number }[] {
  let t = 0;
  let id = 100;
  let call = 0;
  const events: { dir: 'c2s' | 's2c'; msg: unknown; t: number }[] = [
    {
      dir: 'c2s',
      msg: {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'fixture', version: '1' },
        },
      },
      t,
    },
    {
      dir: 's2c',
      msg: {
        jsonrpc: '2.0',
        id: 0,
        result: {
          protocolVersion: '2025-06-18',
          capabilities: { tools: {} },
          serverInfo: { name: 'fixture-server', version: '1' },
        },
      },
      t,
    },
    { dir: 'c2s', msg: { jsonrpc: '2.0', method: 'notifications/initialized' }, t },
  ];
  for (const step of steps) {
    if ('wait' in step) {
      t += parseDuration(step.wait);
    } else if ('tools' in step) {
      const rid = id++;
      const tools = step.tools.map((x) =>
        typeof x === 'string'
          ? { name: x, description: `${x} tool`, inputSchema: { type: 'object' } }
          : { description: `${x.name} tool`, inputSchema: { type: 'object' }, ...x },
      );
      events.push({ dir: 'c2s', msg: { jsonrpc: '2.0', id: rid, method: 'tools/list', params: {} }, t });
      events.push({ dir: 's2c', msg: { jsonrpc: '2.0', id: rid, result: { tools } }, t });
    } else if ('server_request' in step) {
      const rid = id++;
      events.push({
        dir: 's2c',
        msg: {
          jsonrpc: '2.0',
          id: rid,
          method: step.server_request.method,
          params: step.server_request.params ?? {},
        },
        t,
      });
      events.push({ dir: 'c2s', msg: { jsonrpc: '2.0', id: rid, result: {} }, t });
    } else {
      for (let r = 0; r < (step.repeat ?? 1); r++) {
        const rid = id++;
        events.push({
          dir: 'c2s',
          msg: {
            jsonrpc: '2.0',
            id: rid,
            method: 'tools/call',
            params: { name: step.call, arguments: step.args ?? {} },
          },
          t,
        });
        if (step.result !== undefined || step.error) {
          events.push({
            dir: 's2c',
            msg: {
              jsonrpc: '2.0',
              id: rid,
              result: {
                content: [{ type: 'text', text: step.result ?? 'error' }],
                isError: Boolean(step.error),
              },
            },
            t,
          });
        }
        call++;
        t += 1000;
      }
    }
  }
  void call;
  return events;
}

export interface CaseOutcome {
  readonly file: string;
  readonly rule: string;
  readonly name: string;
  readonly ok: boolean;
  readonly problem?: string;
}

/** Check a rule's findings (from decisions, in order) against a case's expectations. */
export function checkExpectation(
  rule: string,
  decisions: readonly Decision[],
  expect: FixtureExpect,
): string | undefined {
  const hits = decisions.flatMap((d) => d.findings.filter((f) => f.rule === rule).map((f) => ({ f, d })));
  if (!expect.fires)
    return hits.length === 0 ? undefined : `expected ${rule} not to fire, it fired: ${hits[0]!.f.reason}`;
  if (hits.length === 0) return `expected ${rule} to fire, it did not`;
  const first = hits[0]!;
  if (expect.action && first.f.action !== expect.action)
    return `expected action ${expect.action}, got ${first.f.action}`;
  if (expect.at_call !== undefined && first.d.call !== expect.at_call)
    return `expected to fire at call ${expect.at_call}, fired at ${first.d.call ?? 'a non-call event'}`;
  if (expect.code && first.f.code !== expect.code)
    return `expected code ${expect.code}, got ${first.f.code ?? 'none'}`;
  if (expect.message_contains && !first.f.reason.includes(expect.message_contains))
    return `expected message to contain "${expect.message_contains}", got "${first.f.reason}"`;
  return undefined;
}

/** Replay every case of every fixture through a monitor running the rule set; report each case. */
export async function runFixtures(set: RuleSet, fixtures: readonly FixtureFile[]): Promise<CaseOutcome[]> {
  const out: CaseOutcome[] = [];
  for (const fx of fixtures) {
    for (const c of fx.cases) {
      const clock = createReplayClock();
      const monitor = createMonitor({
        policy: packPolicies(set, c.fault ? { faultRules: new Set([fx.rule]) } : {}),
        clock: clock.now,
      });
      const decisions: Decision[] = [];
      monitor.decisions$.subscribe((d) => decisions.push(d));
      try {
        await replayBundle(
          monitor,
          {
            id: `${fx.rule}/${c.name}`,
            intent: c.intent ?? fx.intent,
            events: fixtureEvents(c.steps),
            ...(c.identity && { identity: c.identity }),
          },
          { clock },
        );
        const problem = checkExpectation(fx.rule, decisions, c.expect);
        out.push({ file: fx.file, rule: fx.rule, name: c.name, ok: !problem, ...(problem && { problem }) });
      } finally {
        monitor.close();
      }
    }
  }
  return out;
}

/** The coverage gate: every rule needs a firing case, a non-firing case, and (enforcing rules) a fail-closed case. */
export function coverageGaps(set: RuleSet, fixtures: readonly FixtureFile[]): string[] {
  const gaps: string[] = [];
  for (const rule of set.rules) {
    const cases = fixtures.filter((f) => f.rule === rule.id).flatMap((f) => f.cases);
    if (cases.length === 0) {
      gaps.push(`${rule.id}: no fixture file (expected tests/${rule.id}.yaml)`);
      continue;
    }
    if (!cases.some((c) => c.expect.fires && !c.fault)) gaps.push(`${rule.id}: no case where it fires`);
    if (!cases.some((c) => !c.expect.fires)) gaps.push(`${rule.id}: no case where it must not fire`);
    if (
      rule.action !== 'alert' &&
      !cases.some((c) => c.fault && c.expect.fires && c.expect.action === rule.action)
    ) {
      gaps.push(
        `${rule.id}: enforcing rule without a fail-closed case (fault: true expecting ${rule.action})`,
      );
    }
  }
  for (const f of fixtures)
    if (!set.rules.some((r) => r.id === f.rule))
      gaps.push(`${basename(f.file)}: names unknown rule ${f.rule}`);
  return gaps;
}
