import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  advance,
  classifyMessage,
  createMonitor,
  createReplayClock,
  initialState,
  parseIntent,
  replayBundle,
  type Decision,
} from '../src/index.js';
import { rulesLintCommand, rulesTestCommand } from '../src/cli/rules-command.js';
import { coverageGaps, fixtureEvents, loadFixtures, runFixtures } from '../src/replay/fixtures.js';
import { RuleLoadError, loadRules } from '../src/rules/loader.js';
import { loadRulePack, packPolicies } from '../src/rules/pack.js';
import { rulesPolicy } from '../src/rules/engine.js';

const sink = () => {
  let text = '';
  return {
    stream: {
      write: (s: string) => {
        text += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream,
    text: () => text,
  };
};

function ruleDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ig-rules-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const RULE = (id: string, when: string, extra = '') =>
  `id: ${id}\ntitle: Test rule\ndescription: A rule used by the loader tests.\nseverity: low\nmatch:\n  on: tool_call\n  when: ${when}\naction: deny\n${extra}`;

describe('shipped rule pack', () => {
  const set = loadRulePack();
  const fixtures = loadFixtures(['rules']);

  it('has at least 15 rules, each with id, description, severity and a framework mapping', () => {
    assert.ok(set.rules.length >= 15, `only ${set.rules.length} rules`);
    for (const r of set.rules) {
      assert.match(r.id, /^IG-/);
      assert.ok(
        r.description.length > 20 && r.severity && Object.values(r.references).some((x) => x.length > 0),
        r.id,
      );
    }
  });

  it('passes every fixture case', async () => {
    const results = await runFixtures(set, fixtures);
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed, []);
    assert.ok(results.length >= 3 * set.rules.length - 5);
  });

  it('passes the coverage gate: a firing case, a silent case, a fail-closed case for enforcing rules', () => {
    assert.deepEqual(coverageGaps(set, fixtures), []);
  });

  it('the fixture runner catches a wrong expectation', async () => {
    const fx = fixtures.find((f) => f.rule === 'IG-PRV-001')!;
    const wrong = {
      ...fx,
      cases: fx.cases.map((c) => ({ ...c, expect: { ...c.expect, fires: !c.expect.fires } })),
    };
    const results = await runFixtures(set, [wrong]);
    assert.ok(results.every((r) => !r.ok));
  });

  it('the coverage gate reports a rule without fixtures', () => {
    const gaps = coverageGaps(
      set,
      fixtures.filter((f) => f.rule !== 'IG-NET-001'),
    );
    assert.deepEqual(gaps, ['IG-NET-001: no fixture file (expected tests/IG-NET-001.yaml)']);
  });

  it('intentguard rules test and rules lint pass on the shipped pack', async () => {
    const out = sink();
    assert.equal(await rulesTestCommand([], out.stream), 0);
    assert.match(out.text(), /passed, 0 failed; \d+ rules, 0 coverage gaps/);
    const lint = sink();
    assert.equal(rulesLintCommand([], lint.stream), 0, lint.text());
  });

  it('never names the corpus tools, recipients or tasks', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const text = readdirSync('rules')
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join('rules', f), 'utf8'))
      .join('\n');
    for (const word of [
      'send_money',
      'slack',
      'US133',
      'emma',
      'fred',
      'my-website',
      'true-informations',
      'agentdojo',
    ]) {
      assert.ok(!text.toLowerCase().includes(word.toLowerCase()), `rules mention ${word}`);
    }
  });
});

describe('rule loading errors name file, line, column and a stable code', () => {
  const cases: [string, Record<string, string>, string, RegExp][] = [
    ['YAML syntax', { 'a.yaml': 'id: [unclosed\n' }, 'ERR_RULE_PARSE', /a\.yaml:\d+:\d+/],
    [
      'unknown key',
      { 'a.yaml': RULE('IG-T-001', 'tool.read_only', 'colour: red\n') },
      'ERR_RULE_SCHEMA',
      /colour/,
    ],
    [
      'unknown field',
      { 'a.yaml': RULE('IG-T-001', '"tool.nmae == \'x\'"') },
      'ERR_RULE_UNKNOWN_FIELD',
      /a\.yaml:7:\d+: ERR_RULE_UNKNOWN_FIELD: unknown field "tool\.nmae"/,
    ],
    [
      'backtracking regex',
      { 'a.yaml': RULE('IG-T-001', '"call.tool.matches(\'(a+)+$\')"') },
      'ERR_RULE_UNSAFE_REGEX',
      /re2/,
    ],
    [
      'unknown function',
      { 'a.yaml': RULE('IG-T-001', '"shell(call.tool)"') },
      'ERR_RULE_UNKNOWN_FUNCTION',
      /shell/,
    ],
    [
      'bad re2 pattern',
      { 'a.yaml': RULE('IG-T-001', '"re2(call.tool, \'(\')"') },
      'ERR_RULE_EXPRESSION',
      /re2 pattern/,
    ],
    [
      'expression syntax',
      { 'a.yaml': RULE('IG-T-001', '"call.tool =="') },
      'ERR_RULE_EXPRESSION',
      /a\.yaml:7:/,
    ],
    [
      'duplicate id',
      { 'a.yaml': RULE('IG-T-001', 'tool.read_only'), 'b.yaml': RULE('IG-T-001', 'tool.read_only') },
      'ERR_RULE_DUPLICATE_ID',
      /already defined/,
    ],
    [
      'sequence without window',
      {
        'a.yaml':
          'id: IG-T-001\ntitle: Test rule\ndescription: no window here at all\nseverity: low\nsequence:\n  steps: [{as: a, on: tool_call}, {as: b, on: tool_call}]\naction: deny\n',
      },
      'ERR_RULE_SCHEMA',
      /within/,
    ],
    [
      'override of an unknown rule',
      { 'a.yaml': 'override: IG-NOPE-001\nenabled: false\n' },
      'ERR_RULE_OVERRIDE',
      /no rule/,
    ],
    [
      'override weakening on_error',
      { 'a.yaml': RULE('IG-T-001', 'tool.read_only'), 'z.yaml': 'override: IG-T-001\non_error: skip\n' },
      'ERR_RULE_OVERRIDE',
      /unsafe_override/,
    ],
  ];
  for (const [name, files, code, message] of cases) {
    it(name, () => {
      const dir = ruleDir(files);
      assert.throws(
        () => loadRules([dir]),
        (e: unknown) => {
          assert.ok(e instanceof RuleLoadError, String(e));
          assert.equal(e.code, code);
          assert.match(e.message, message);
          assert.ok(e.line >= 1 && e.col >= 1);
          return true;
        },
      );
    });
  }

  it('a block-scalar expression error points into the right line', () => {
    const dir = ruleDir({
      'a.yaml':
        'id: IG-T-001\ntitle: Test rule\ndescription: block scalar positions\nseverity: low\nmatch:\n  on: tool_call\n  when: >-\n    tool.read_only\n      && net.hostz == 1\naction: deny\n',
    });
    assert.throws(
      () => loadRules([dir]),
      (e: RuleLoadError) => e.code === 'ERR_RULE_UNKNOWN_FIELD' && e.line === 9 && e.col >= 10,
    );
  });
});

describe('rules engine semantics', () => {
  const intent = parseIntent({ purpose: 'p', tools: ['a', 'b'] });
  const replay = async (set: ReturnType<typeof loadRules>, steps: Parameters<typeof fixtureEvents>[0]) => {
    const clock = createReplayClock();
    const monitor = createMonitor({ policy: packPolicies(set), clock: clock.now });
    const decisions: Decision[] = [];
    monitor.decisions$.subscribe((d) => decisions.push(d));
    const r = await replayBundle(monitor, { id: 's', intent, events: fixtureEvents(steps) }, { clock });
    monitor.close();
    return { r, decisions };
  };

  it('an expression that errors at run time fails closed for an enforcing rule', async () => {
    const set = loadRules([ruleDir({ 'a.yaml': RULE('IG-T-001', '"call.args.amount + 1 > 2"') })]);
    const { r, decisions } = await replay(set, [{ call: 'a', args: { amount: 5 } }]);
    assert.equal(r.outcome, 'deny');
    const f = decisions.flatMap((d) => d.findings).find((x) => x.rule === 'IG-T-001')!;
    assert.equal(f.code, 'ERR_RULE_EVAL');
    assert.match(f.reason, /failing closed/);
  });

  it('on_error: skip turns an evaluation error of an alert rule into an alert', async () => {
    const set = loadRules([
      ruleDir({
        'a.yaml': RULE('IG-T-001', '"call.args.amount + 1 > 2"').replace('action: deny', 'action: alert'),
      }),
    ]);
    const { r } = await replay(set, [{ call: 'a', args: { amount: 5 } }]);
    assert.equal(r.outcome, 'alert');
  });

  it('all matching rules are reported and the strongest action wins; macros and lists resolve', async () => {
    const set = loadRules([
      ruleDir({
        '_defs.yaml': 'lists:\n  watched: [a]\nmacros:\n  is_watched: call.tool in lists.watched\n',
        'r1.yaml': RULE('IG-T-001', 'macros.is_watched').replace('action: deny', 'action: alert'),
        'r2.yaml': RULE('IG-T-002', 'macros.is_watched').replace('action: deny', 'action: halt'),
        'r3.yaml': RULE('IG-T-003', 'macros.is_watched'),
      }),
    ]);
    const { r } = await replay(set, [{ call: 'a' }, { call: 'b' }]);
    assert.equal(r.outcome, 'halt');
    assert.deepEqual(r.findings.map((f) => f.rule).sort(), ['IG-T-001', 'IG-T-002', 'IG-T-003']);
  });

  it('exceptions suppress a finding; overrides append exceptions, change actions and disable rules', async () => {
    const base = RULE(
      'IG-T-001',
      'call.tool == "a"',
      'exceptions:\n  - name: small\n    when: call.args.n < 10\n',
    );
    const set1 = loadRules([ruleDir({ 'r.yaml': base })]);
    assert.equal((await replay(set1, [{ call: 'a', args: { n: 5 } }])).r.outcome, 'allow');
    assert.equal((await replay(set1, [{ call: 'a', args: { n: 50 } }])).r.outcome, 'deny');
    const site = ruleDir({
      'o.yaml':
        'override: IG-T-001\naction: alert\nappend_exceptions:\n  - { name: big, when: "call.args.n > 100" }\n',
    });
    const set2 = loadRules([ruleDir({ 'r.yaml': base }), site]);
    assert.equal((await replay(set2, [{ call: 'a', args: { n: 50 } }])).r.outcome, 'alert');
    assert.equal((await replay(set2, [{ call: 'a', args: { n: 500 } }])).r.outcome, 'allow');
    const set3 = loadRules([
      ruleDir({ 'r.yaml': base }),
      ruleDir({ 'o.yaml': 'override: IG-T-001\nenabled: false\n' }),
    ]);
    assert.equal((await replay(set3, [{ call: 'a', args: { n: 50 } }])).r.outcome, 'allow');
  });

  it('sequence partial matches are bounded per session (max_pending)', async () => {
    const set = loadRules([
      ruleDir({
        's.yaml':
          'id: IG-T-001\ntitle: Test rule\ndescription: bounded partial matches\nseverity: low\nsequence:\n  within: 1h\n  max_pending: 3\n  steps:\n    - { as: x, on: tool_call, when: "call.tool == \'a\'" }\n    - { as: y, on: tool_call, when: "call.tool == \'b\'" }\naction: alert\n',
      }),
    ]);
    // Drive the policy directly (no RxJS): 50 first steps, never a second one.
    const policy = rulesPolicy(set);
    let session = initialState({ id: 's', key: 'k', intent, startedAt: 0 });
    const state = policy.createState!(session);
    for (let i = 0; i < 50; i++) {
      const raw = { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'a', arguments: {} } };
      const step = advance(session, { dir: 'c2s', raw, bytes: 10, time: i, message: classifyMessage(raw) });
      session = step.state;
      policy.evaluate({ event: step.event, session, state });
    }
    assert.equal(state.partials.get('IG-T-001')!.length, 3);
  });

  it('pre-checks never change a result: guarded and plain evaluation agree, errors included', async () => {
    const { compileExpression, createEnvironment } = await import('../src/rules/cel.js');
    const env = createEnvironment();
    const exprs = [
      'tool.side_effecting && size(provenance.injected_targets) > 0',
      '!tool.approved && tool.side_effecting',
      "'egress' in tool.categories && call.args.n + 1 > 2",
      "'secret' in data.labels || 'credential' in data.labels",
      'size(intent.zones) > 0 && size(net.hosts) > 0',
      '(intent.budget_calls >= 0.0 && session.calls > intent.budget_calls) || (intent.budget_duration_ms >= 0.0 && session.elapsed_ms > intent.budget_duration_ms)',
    ];
    const contexts = [
      {
        tool: { side_effecting: true, approved: false, categories: ['egress'] },
        provenance: { injected_targets: ['x'] },
        data: { labels: ['secret'] },
        intent: { zones: ['a'], budget_calls: 2, budget_duration_ms: -1 },
        net: { hosts: ['h'] },
        session: { calls: 3, elapsed_ms: 5 },
        call: { args: { n: 1 } },
      },
      {
        tool: { side_effecting: false, approved: true, categories: [] },
        provenance: { injected_targets: [] },
        data: { labels: [] },
        intent: { zones: [], budget_calls: -1, budget_duration_ms: -1 },
        net: { hosts: [] },
        session: { calls: 1, elapsed_ms: 1 },
        call: { args: { n: 1 } },
      },
      {
        tool: { side_effecting: true, approved: true, categories: ['egress'] },
        provenance: { injected_targets: [] },
        data: { labels: ['credential'] },
        intent: { zones: ['a'], budget_calls: 5, budget_duration_ms: 10 },
        net: { hosts: [] },
        session: { calls: 1, elapsed_ms: 50 },
        call: { args: { n: 'str' } },
      },
    ];
    const outcome = (f: () => unknown) => {
      try {
        return f();
      } catch {
        return 'error';
      }
    };
    for (const e of exprs) {
      const guarded = compileExpression(env, e);
      const plain = env.parse(e) as unknown as (c: unknown) => unknown;
      for (const c of contexts)
        assert.deepEqual(
          outcome(() => guarded(c)),
          outcome(() => plain(c)),
          `${e} on ${JSON.stringify(c)}`,
        );
    }
  });

  it('provenance.fragments is there for rules that read it (and only computed then)', async () => {
    const set = loadRules([
      ruleDir({
        'f.yaml': RULE(
          'IG-T-001',
          '"provenance.fragments.exists(f, f.call == 0.0) && provenance.max_source_sensitivity == \'public\'"',
        ),
      }),
    ]);
    const text = 'The quarterly revenue was 4.2 million, up eleven percent on last year.';
    const { r } = await replay(set, [
      { call: 'a', args: {}, result: text },
      { call: 'b', args: { body: `copy: ${text}` } },
    ]);
    assert.equal(r.outcome, 'deny');
    assert.equal(r.stopped_at_call, 1);
  });
});
