import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runtimeOptions } from '../src/cli/proxy-commands.js';
import { createMonitor } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-config-'));
const config = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const configError = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: { code?: string; message: string }) => {
    assert.equal(e.code, 'ERR_CONFIG');
    assert.match(e.message, pattern);
    return true;
  });

describe('intentguard.yaml, flags and environment', () => {
  it('settings come from the file; flags override it; the environment fills what neither sets', () => {
    const file = config(
      'ok.yaml',
      [
        'mode: monitor',
        'db: /var/lib/intentguard/ig.db',
        'rules: [site-rules]',
        'maxMessageBytes: 65536',
        'approvalTimeout: 2m',
        'alertsWsPort: 9400',
        'alertsWsToken: t0ken',
        'approveCli: true',
        'pack: false',
      ].join('\n'),
    );
    const o = runtimeOptions({ config: file }, { INTENTGUARD_INTENT: '/etc/intent.yaml' });
    assert.equal(o.mode, 'monitor');
    assert.equal(o.db, '/var/lib/intentguard/ig.db');
    assert.deepEqual(o.rules, ['site-rules']);
    assert.equal(o.maxMessageBytes, 65_536);
    assert.equal(o.approvals?.timeout, '2m');
    assert.deepEqual([o.alerts?.wsPort, o.alerts?.wsToken], [9400, 't0ken']);
    assert.equal(o.approvals?.cli, true);
    assert.equal(o.pack, false);
    assert.equal(o.intentFile, '/etc/intent.yaml');
    assert.equal(
      o.approvals?.elicitation,
      false,
      'elicitation is off unless switched on (the agent could answer its own prompts)',
    );
    assert.equal(runtimeOptions({ elicitation: true }, {}).approvals?.elicitation, true);
    assert.equal(
      runtimeOptions({ config: config('elicit.yaml', 'elicitation: true\n') }, {}).approvals?.elicitation,
      true,
    );
    assert.equal(runtimeOptions({ elicitation: false }, {}).approvals?.elicitation, false);
    assert.equal(
      runtimeOptions({ config: config('noelicit.yaml', 'elicitation: false\n') }, {}).approvals?.elicitation,
      false,
    );
    const flagged = runtimeOptions(
      { config: file, mode: 'enforce', maxMessageBytes: '1024', db: 'other.db' },
      {},
    );
    assert.deepEqual([flagged.mode, flagged.maxMessageBytes, flagged.db], ['enforce', 1024, 'other.db']);
  });

  it('an unknown or misspelt setting, a wrong type or broken YAML is ERR_CONFIG naming the file and the setting, never ignored', () => {
    configError(
      () => runtimeOptions({ config: config('typo.yaml', 'mode: monitor\nmaxMesageBytes: 1024\n') }, {}),
      /typo\.yaml: unknown setting "maxMesageBytes"/,
    );
    configError(
      () => runtimeOptions({ config: config('type.yaml', 'maxMessageBytes: lots\n') }, {}),
      /type\.yaml: maxMessageBytes must be integer/,
    );
    configError(
      () => runtimeOptions({ config: config('mode.yaml', 'mode: banana\n') }, {}),
      /mode\.yaml: mode must be equal to one of the allowed values/,
    );
    configError(
      () => runtimeOptions({ config: config('dur.yaml', 'approvalTimeout: soon\n') }, {}),
      /dur\.yaml: approvalTimeout must match pattern/,
    );
    configError(
      () => runtimeOptions({ config: config('yaml.yaml', 'rules: [unclosed\n') }, {}),
      /yaml\.yaml: /,
    );
    configError(
      () => runtimeOptions({ config: config('list.yaml', '- a\n- b\n') }, {}),
      /list\.yaml: the file must be object/,
    );
  });

  it('a size limit that is not a whole number is refused, not turned into "no limit"', () => {
    configError(
      () => runtimeOptions({ maxMessageBytes: 'abc' }, {}),
      /--max-message-bytes must be a whole number/,
    );
    configError(
      () => runtimeOptions({ maxMessageBytes: '0' }, {}),
      /--max-message-bytes must be a whole number from 1/,
    );
    configError(
      () => runtimeOptions({ alertsWsPort: '70000' }, {}),
      /--alerts-ws-port must be a whole number from 0 to 65535/,
    );
  });

  it('the library refuses monitor limits that would switch a check off', () => {
    for (const bad of [
      { maxMessageBytes: Number.NaN },
      { maxPending: 0 },
      { decisionTimeoutMs: Infinity },
      { approvalTimeoutMs: 2 ** 31 },
      { maxMessageBytes: -1 },
    ]) {
      assert.throws(
        () => createMonitor(bad),
        (e: { code?: string }) => e.code === 'ERR_CONFIG',
        JSON.stringify(bad),
      );
    }
    createMonitor({
      maxMessageBytes: 1024,
      maxPending: 1,
      decisionTimeoutMs: 10,
      approvalTimeoutMs: 2 ** 31 - 1,
    }).close();
  });

  it('a file or directory that cannot be read is ERR_FILE naming it', () => {
    const missing = join(dir, 'missing-intent.yaml');
    const r = spawnSync(
      process.execPath,
      ['bin/intentguard.js', 'stdio', '--intent', missing, '--no-record', '--', process.execPath, '-e', '0'],
      { encoding: 'utf8', input: '' },
    );
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), `intentguard: ERR_FILE: cannot read ${missing}: no such file or directory`);
    const rules = spawnSync(
      process.execPath,
      ['bin/intentguard.js', 'rules', 'lint', join(dir, 'no-rules')],
      { encoding: 'utf8' },
    );
    assert.equal(rules.status, 1);
    assert.match(rules.stdout, /ERR_FILE: rules directory not found: .*no-rules/);
  });

  it('the CLI stops with the error and exit code 2 before starting anything', () => {
    const file = config('cli.yaml', 'recrod: false\n');
    const r = spawnSync(
      process.execPath,
      [
        'bin/intentguard.js',
        'stdio',
        '--config',
        file,
        '--',
        process.execPath,
        '-e',
        'process.stdin.resume()',
      ],
      { encoding: 'utf8', input: '' },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ERR_CONFIG: .*cli\.yaml: unknown setting "recrod"/);
  });
});
