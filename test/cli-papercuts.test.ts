// Issue 18, CLI papercuts (second round): replay --session of an unknown id, replay DB and FILE printing
// the same format, rules lint on site rules without references, a grant presented with no key to verify
// it. Each test is named after the papercut; real CLI processes, real SQLite files, real servers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createMonitor } from '../src/index.js';
import { openStore } from '../src/store/db.js';
import { createRecorder } from '../src/store/recorder.js';
import { driveSession } from './helpers/session.js';

const exec = promisify(execFile);
const bin = resolve('bin/intentguard.js');
const MEMORY = resolve('node_modules/@modelcontextprotocol/server-memory/dist/index.js');
/** The CLI with its stdin closed at once (a stdio proxy then ends: its client went away). */
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) => {
  const run = exec(process.execPath, [bin, ...args], { env });
  run.child.stdin?.end();
  return run.then(
    (r) => ({ ...r, code: 0 }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
};
const dir = mkdtempSync(join(tmpdir(), 'ig-papercuts-'));

async function recorded(): Promise<string> {
  const db = join(dir, `rec-${Math.random()}.db`);
  const store = openStore(db);
  const monitor = createMonitor();
  const recorder = createRecorder(store, monitor);
  await driveSession(monitor, { sub: 'agent:one' });
  await driveSession(monitor, { sub: 'agent:two', drift: false });
  await recorder.close();
  monitor.close();
  store.close();
  return db;
}

describe('CLI papercuts, second round (issue 18)', () => {
  it('replay --session with an id the database does not hold exits 2 with ERR_SESSION_NOT_FOUND', async () => {
    const db = await recorded();
    for (const extra of [[], ['--json'], ['--diff']]) {
      const r = await cli(['replay', db, '--session', 'nope', ...extra]);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, /^intentguard: ERR_SESSION_NOT_FOUND: no session nope in /);
      assert.equal(r.stdout, '');
    }
  });

  it('replay DB and replay FILE print the same format: text by default, JSON with --json', async () => {
    const db = await recorded();
    const file = join(dir, 'exported.jsonl');
    assert.equal((await cli(['export', '--db', db, '--out', file])).code, 0);
    const fromDb = await cli(['replay', db]);
    const fromFile = await cli(['replay', file]);
    assert.equal(fromDb.code, 0, fromDb.stderr);
    assert.equal(fromDb.stdout, fromFile.stdout, 'the same text');
    assert.match(fromDb.stdout, /^reauthorize +stopped_at_call=\d+ +ig-/m);
    assert.match(fromDb.stdout, /\n\n(allow: 1, reauthorize: 1|reauthorize: 1, allow: 1)\n$/);
    const jsonDb = (await cli(['replay', db, '--json'])).stdout;
    assert.equal(jsonDb, (await cli(['replay', file, '--json'])).stdout, 'the same JSON');
    assert.deepEqual(
      jsonDb
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { outcome: string }).outcome)
        .sort(),
      ['allow', 'reauthorize'],
    );
    const one = await cli([
      'replay',
      db,
      '--session',
      (JSON.parse(jsonDb.split('\n')[0]!) as { id: string }).id,
    ]);
    assert.match(one.stdout, /\n\n\w+: 1\n$/);
  });

  it('rules lint: a site rule without framework references is a warning (exit 0); the shipped pack still requires them', async () => {
    const site = join(dir, 'site-rules');
    mkdirSync(join(site, 'tests'), { recursive: true });
    writeFileSync(
      join(site, 'SITE-ECHO-001.yaml'),
      'id: SITE-ECHO-001\ntitle: No echo on Fridays\ndescription: a site rule without references\nseverity: low\nmatch:\n  on: tool_call\n  when: call.tool == "echo"\naction: alert\n',
    );
    writeFileSync(
      join(site, 'tests', 'SITE-ECHO-001.yaml'),
      'rule: SITE-ECHO-001\nintent: { purpose: echo things, tools: [echo] }\ncases:\n  - name: echo alerts\n    steps:\n      - { call: echo, args: { text: hi } }\n    expect: { fires: true, action: alert }\n',
    );
    const r = await cli(['rules', 'lint', site]);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^warning: SITE-ECHO-001: no references \(OWASP Agentic/m);
    assert.match(r.stdout, /: 0 problems, 1 warnings\n$/);
    // The same rule file in the shipped pack's place is an error: lintRuleSet decides by where it lives.
    const { lintRuleSet } = await import('../src/cli/rules-command.js');
    const { loadRulePack, SHIPPED_RULES_DIR } = await import('../src/rules/pack.js');
    const set = loadRulePack([site]);
    const asShipped = {
      ...set,
      rules: set.rules.map((rule) =>
        rule.id === 'SITE-ECHO-001' ? { ...rule, file: join(SHIPPED_RULES_DIR, 'SITE-ECHO-001.yaml') } : rule,
      ),
    };
    const warnings: string[] = [];
    assert.ok(lintRuleSet(asShipped, warnings).some((p) => /SITE-ECHO-001: no references/.test(p)));
    assert.deepEqual(warnings, []);
  });

  it('a grant presented without keys configured (INTENTGUARD_GRANT, no --jwks): ERR_GRANT_UNVERIFIABLE in enforce mode, a loud warning in monitor mode', async () => {
    const intent = join(dir, 'intent.yaml');
    writeFileSync(intent, 'purpose: read the graph\ntools: [read_graph]\n');
    const env = { ...process.env, INTENTGUARD_GRANT: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' };
    const server = ['--', process.execPath, MEMORY];
    const refused = await cli(['stdio', '--intent', intent, '--no-record', ...server], env);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^intentguard: ERR_GRANT_UNVERIFIABLE: a grant was presented \(--grant or INTENTGUARD_GRANT\) but no key is configured to verify it: give --jwks FILE/,
    );
    const flag = await cli(['stdio', '--intent', intent, '--no-record', '--grant', 'x.y.z', ...server]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /ERR_GRANT_UNVERIFIABLE/);
    // Monitor mode runs (stdin is closed at once, so the proxy ends) and says so on stderr.
    const watched = await cli(
      ['stdio', '--mode', 'monitor', '--intent', intent, '--no-record', ...server],
      env,
    );
    assert.match(
      watched.stderr,
      /intentguard: WARNING: a grant was presented .* monitor mode: the session runs UNVERIFIED/,
    );
    assert.doesNotMatch(watched.stderr, /ERR_GRANT_UNVERIFIABLE/);
  });
});
