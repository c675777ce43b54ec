// Issue 18, newcomer papercuts in the CLI: --version, a LICENSE, durations that need units, approve
// --scope typos, keys generate overwriting a key, a bad --upstream, and grant inspect agreeing with
// the proxy on expiry. Each test is named after the papercut.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { choiceFlag, durationFlag, sinceFlag } from '../src/cli/config.js';
import { mintGrant } from '../src/identity/grant.js';
import { generateKeys } from '../src/identity/keys.js';
import { openStore } from '../src/store/db.js';

const exec = promisify(execFile);
const bin = resolve('bin/intentguard.js');
const cli = (args: string[], cwd = process.cwd()) =>
  exec(process.execPath, [bin, ...args], { cwd }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
const dir = mkdtempSync(join(tmpdir(), 'ig-newcomer-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things\ntools: [echo]\n');
const codeOf = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('CLI papercuts (issue 18)', () => {
  it('--version (and -V) prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  it('a LICENSE file holds the Apache-2.0 text package.json names', () => {
    assert.equal(
      (JSON.parse(readFileSync('package.json', 'utf8')) as { license: string }).license,
      'Apache-2.0',
    );
    const text = readFileSync('LICENSE', 'utf8');
    // The canonical https://www.apache.org/licenses/LICENSE-2.0.txt, byte for byte.
    assert.equal(createHash('md5').update(text).digest('hex'), '3b83ef96387f14655fc854ddc3c6bd57');
    assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
  });

  it('durations on the command line need units: a bare number is ERR_DURATION naming the flag', async () => {
    for (const name of ['--ttl', '--max-ttl', '--approval-timeout', '--older-than']) {
      assert.equal(
        codeOf(() => durationFlag(name)('600')),
        'ERR_DURATION',
      );
      assert.equal(
        codeOf(() => durationFlag(name)('1.5')),
        'ERR_DURATION',
      );
      assert.equal(
        codeOf(() => durationFlag(name)('10 minutes')),
        'ERR_DURATION',
      );
      assert.equal(durationFlag(name)('10m'), '10m');
      assert.equal(durationFlag(name)('1h30m'), '1h30m');
    }
    assert.equal(
      codeOf(() => sinceFlag('--since')('24')),
      'ERR_DURATION',
    );
    assert.equal(sinceFlag('--since')('24h'), '24h');
    assert.equal(sinceFlag('--since')('2026-01-01T00:00:00Z'), '2026-01-01T00:00:00Z');
    // Through the CLI, for a grant's lifetime, a proxy's approval timeout and the prune cut-off.
    const cases: [string[], string][] = [
      [['grant', 'mint', '--intent', intentFile, '--sub', 'agent:x', '--ttl', '600'], '--ttl'],
      [
        ['stdio', '--no-record', '--intent', intentFile, '--approval-timeout', '5', '--', 'true'],
        '--approval-timeout',
      ],
      [['prune', '--older-than', '30', '--db', join(dir, 'none.db')], '--older-than'],
      [['replay', join(dir, 'none.db'), '--since', '24'], '--since'],
    ];
    for (const [args, flag] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, new RegExp(`^intentguard: ERR_DURATION: ${flag} `), args.join(' '));
    }
    assert.ok(!existsSync(join(dir, 'none.db')), 'refused before anything was opened');
  });

  it('approve --scope refuses anything but once, session or intent instead of recording it as once', async () => {
    assert.equal(
      codeOf(() => choiceFlag('--scope', ['once', 'session'])('intent')),
      'ERR_CONFIG',
    );
    const db = join(dir, 'approvals.db');
    openStore(db).close();
    for (const scope of ['forever', 'sesion', 'ONCE']) {
      const r = await cli(['approve', 'a-1', '--db', db, '--scope', scope]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        new RegExp(`^intentguard: ERR_CONFIG: --scope must be once or session or intent, got "${scope}"`),
      );
    }
    // deny never widens: --scope intent is refused there
    const d = await cli(['deny', 'a-1', '--db', db, '--scope', 'intent']);
    assert.equal(d.code, 2);
    assert.match(
      d.stderr,
      /^intentguard: ERR_CONFIG: --scope must be once or session \(only an approval widens/,
    );
    // A known scope gets as far as looking the approval up.
    assert.match(
      (await cli(['approve', 'a-1', '--db', db, '--scope', 'session'])).stderr,
      /ERR_APPROVAL_NOT_FOUND/,
    );
  });

  it('keys generate refuses to overwrite an existing private key without --force', async () => {
    const out = join(dir, 'keys');
    assert.equal((await cli(['keys', 'generate', '--out', out])).code, 0);
    const first = readFileSync(join(out, 'private.jwk.json'), 'utf8');
    const again = await cli(['keys', 'generate', '--out', out]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^intentguard: ERR_KEY_EXISTS: .*private\.jwk\.json exists; give --force/);
    assert.equal(readFileSync(join(out, 'private.jwk.json'), 'utf8'), first, 'the key is untouched');
    assert.equal((await cli(['keys', 'generate', '--out', out, '--force'])).code, 0);
    assert.notEqual(readFileSync(join(out, 'private.jwk.json'), 'utf8'), first, 'replaced on request');
  });

  it('a bad --upstream (no scheme) is refused at start with ERR_CONFIG', async () => {
    const r = await cli([
      'http',
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      'localhost:13001',
      '--no-record',
      '--intent',
      intentFile,
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^intentguard: ERR_CONFIG: --upstream takes a http or https URL .*"localhost:13001"/,
    );
  });

  it("grant inspect uses the proxy's clock tolerance (exp exact), says so in both outputs, and finds ./keys/jwks.json", async () => {
    const home = mkdtempSync(join(tmpdir(), 'ig-inspect-'));
    mkdirSync(join(home, 'keys'));
    const keys = await generateKeys();
    writeFileSync(join(home, 'keys', 'jwks.json'), JSON.stringify(keys.publicJwks));
    const mint = (now: number) =>
      mintGrant({
        privateJwk: keys.privateJwk,
        iss: 'https://idp.test',
        aud: 'https://ig.test/mcp',
        sub: 'agent:x',
        ttl: '10m',
        intent: { purpose: 'p', tools: ['echo'] },
        now,
      });
    // Expired five seconds ago: inside the old 30 s skew, which made inspect say "verified" while the proxy refused it.
    const justExpired = await mint(Date.now() - 600_000 - 5_000);
    const r = await cli(['grant', 'inspect', justExpired], home);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^keys: keys[/\\]jwks\.json$/m);
    assert.match(
      r.stdout,
      /not verified: ERR_GRANT_EXPIRED: .*\(clock tolerance 30 s on nbf\/iat, none on exp, as the proxy checks it\)/,
    );
    const ok = await cli(['grant', 'inspect', await mint(Date.now())], home);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /verified: agent:x, .*\(clock tolerance 30 s on nbf\/iat, none on exp, as the proxy checks it\)/,
    );
    // The proxy refuses the same grant at the door, and says what tolerance it runs with.
    const child = spawn(
      process.execPath,
      [
        bin,
        'http',
        '--listen',
        '127.0.0.1:0',
        '--no-record',
        '--upstream',
        'http://127.0.0.1:1/mcp',
        '--jwks',
        join(home, 'keys', 'jwks.json'),
        '--issuer',
        'https://idp.test',
        '--audience',
        'https://ig.test/mcp',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      const line = await new Promise<string>((res, rej) => {
        let err = '';
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
          if (err.includes('\n')) res(err);
        });
        child.on('exit', () => rej(new Error(err)));
      });
      assert.match(line, /grants required: clock tolerance 30 s on nbf\/iat, none on exp/);
      const url = /(http:\/\/\S+)/.exec(line)![1]!;
      const refused = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${justExpired}` },
        body: '{}',
      });
      assert.equal(refused.status, 401);
      assert.equal(
        ((await refused.json()) as { error: { data: { code: string } } }).error.data.code,
        'ERR_GRANT_EXPIRED',
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
