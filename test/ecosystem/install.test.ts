// The install path (issue 18): the packed tarball, installed into an empty folder, runs its compiled
// CLI and the demo. One pack and one install for the whole file (CPU is shared: never in a loop).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const env: NodeJS.ProcessEnv = { ...process.env, npm_config_loglevel: 'error' };
delete env.INTENTGUARD_FROM_SOURCE;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('installed from the packed tarball', () => {
  let dir = '';
  let project = '';
  let cli = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'intentguard-install-'));
    project = join(dir, 'project');
    mkdirSync(project);
    // `npm pack` runs the prepare script: dist/ is compiled from these sources first.
    const pack = await run('npm', ['pack', '--pack-destination', dir], repo);
    assert.equal(pack.code, 0, pack.stderr);
    const tarball = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.tgz'))!,
    );
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'empty-project', private: true }));
    // Dependencies come from the registry (or npm's cache). Install scripts are skipped: the one native
    // addon, better-sqlite3, is copied from this checkout's identical build instead of compiled again
    // for minutes; everything else is exactly what a user gets.
    const install = await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball],
      project,
    );
    assert.equal(install.code, 0, install.stderr);
    const addon = join(
      dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')),
      'build',
      'Release',
      'better_sqlite3.node',
    );
    const target = join(project, 'node_modules', 'better-sqlite3', 'build', 'Release');
    mkdirSync(target, { recursive: true });
    copyFileSync(addon, join(target, 'better_sqlite3.node'));
    cli = join(project, 'node_modules', '.bin', 'intentguard');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('installed package runs the compiled CLI even when its sources look newer (npm extracts src/ after dist/)', async () => {
    const pkg = join(project, 'node_modules', 'intentguard');
    // The sources are made newer than dist/ and broken: a launcher that picks them fails.
    const main = join(pkg, 'src', 'cli', 'main.ts');
    const original = readFileSync(main);
    writeFileSync(main, 'this is not TypeScript (\n');
    const later = new Date(Date.now() + 3_600_000);
    utimesSync(main, later, later);
    const r = await run(cli, ['--help'], project).finally(() => writeFileSync(main, original));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: intentguard/);
    assert.match(r.stdout, /stdio \[options\] <command\.\.\.>/);
    assert.doesNotMatch(r.stdout, /demo-server/, 'the demo server is a hidden command');
    const version = await run(cli, ['--version'], project);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(
      version.stdout.trim(),
      (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('intentguard demo runs from an install (no dev dependencies present)', async () => {
    const r = await run(cli, ['demo', '--db', join(project, 'demo.db')], project);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /2\. the approved task: read the notes\n {2}call read_text_file .*\n {2}→ ALLOW .*Q3 notes/,
    );
    assert.match(r.stdout, /3\. drift: read a secret outside the task\n.*\n {2}→ DENY/);
    assert.match(r.stdout, /exfil\.txt written: false/);
    assert.match(r.stdout, /outcome halt/);
    assert.match(
      r.stdout,
      /see it: {3}intentguard show ig-/,
      'an install names its bin, not bin/intentguard.js',
    );
    const show = await run(cli, ['sessions', '--db', join(project, 'demo.db')], project);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /agent:demo-summariser/);
  });

  it('the installed proxy starts from what the build made: the precompiled shipped pack and the rxjs and yaml bundles', () => {
    // A preload records every CommonJS module each process loaded. Parsing the pack's YAML would load
    // ajv (the schema check) and yaml's CommonJS build; the unbundled rx module, rxjs's.
    const probe = join(dir, 'probe');
    mkdirSync(probe);
    const preload = join(probe, 'loaded.cjs');
    writeFileSync(
      preload,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(probe)} + '/loaded.' + process.pid, Object.keys(require.cache).join('\\n')));\n`,
    );
    const intent = join(probe, 'intent.yaml');
    writeFileSync(intent, 'purpose: echo things\ntools: [echo]\n');
    const initialize = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'probe', version: '1' },
      },
    });
    const r = spawnSync(
      cli,
      [
        'stdio',
        '--intent',
        intent,
        '--db',
        join(probe, 'p.db'),
        '--',
        process.execPath,
        join(repo, 'test', 'fixtures', 'raw-server.mjs'),
      ],
      {
        cwd: project,
        input: `${initialize}\n`,
        env: { ...env, NODE_OPTIONS: `--require ${preload}` },
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /"id":1,"result"/);
    const loaded = readdirSync(probe)
      .filter((f) => /^loaded\.\d+$/.test(f))
      .flatMap((f) => readFileSync(join(probe, f), 'utf8').split('\n'));
    assert.ok(
      loaded.some((f) => f.includes('/node_modules/better-sqlite3/')),
      'the probe saw the recorder load',
    );
    for (const lib of ['ajv', 'rxjs', 'yaml'])
      assert.ok(!loaded.some((f) => f.includes(`/node_modules/${lib}/`)), `${lib} was loaded at start-up`);
  });
});
