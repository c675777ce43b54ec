import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { GrantError, generateKeys, mintGrant, resolveKeys, verifyGrant } from '../src/index.js';

const exec = promisify(execFile);
const cli = (args: string[]) =>
  exec(process.execPath, ['bin/intentguard.js', ...args]).catch(
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('grants: key sources and the command line', () => {
  it('a JWKS URL is cached; an unknown kid triggers one refetch, so keys can rotate', async () => {
    const first = await generateKeys();
    const second = await generateKeys();
    let current = first.publicJwks;
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
    const keys = await resolveKeys({ jwksUrl: url, cooldownMs: 0 });
    const policy = { keys, issuers: ['https://idp.test'], audience: 'aud' };
    const mint = (k: typeof first) =>
      mintGrant({
        privateJwk: k.privateJwk,
        iss: 'https://idp.test',
        aud: 'aud',
        sub: 'agent:r',
        ttl: '5m',
        intent: { purpose: 'p', tools: ['a'] },
      });
    await verifyGrant(await mint(first), policy);
    await verifyGrant(await mint(first), policy);
    assert.equal(fetches, 1, 'cached');
    current = second.publicJwks; // the issuer rotates its key
    assert.equal((await verifyGrant(await mint(second), policy)).identity.sub, 'agent:r');
    assert.equal(fetches, 2, 'one refetch for the unknown kid');
    // With a cooldown, a flood of unknown kids does not hammer the issuer.
    const rate = await resolveKeys({ jwksUrl: url, cooldownMs: 60_000 });
    const stranger = await generateKeys();
    const before = fetches;
    for (let i = 0; i < 5; i++)
      await assert.rejects(
        verifyGrant(await mint(stranger), { ...policy, keys: rate }),
        (e: GrantError) => e.code === 'ERR_GRANT_KEY_UNKNOWN',
      );
    assert.ok(fetches - before <= 2, `refetches were rate limited (${fetches - before})`);
    server.close();
  });

  it('keys generate, grant mint, grant inspect and revoke', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-idcli-'));
    writeFileSync(join(dir, 'intent.yaml'), 'purpose: Summarise notes\ntools: [echo]\n');
    assert.match((await cli(['keys', 'generate', '--out', join(dir, 'k')])).stdout, /generated ES256 key/);
    assert.equal(JSON.parse(readFileSync(join(dir, 'k', 'jwks.json'), 'utf8')).keys.length, 1);
    const token = (
      await cli([
        'grant',
        'mint',
        '--intent',
        join(dir, 'intent.yaml'),
        '--sub',
        'agent:cli',
        '--key',
        join(dir, 'k', 'private.jwk.json'),
        '--act',
        'user:bob',
      ])
    ).stdout.trim();
    assert.equal(token.split('.').length, 3);
    const ok = await cli(['grant', 'inspect', token, '--jwks', join(dir, 'k', 'jwks.json')]);
    assert.match(ok.stdout, /verified: agent:cli acting for user:bob/);
    const wrongAud = await cli([
      'grant',
      'inspect',
      token,
      '--jwks',
      join(dir, 'k', 'jwks.json'),
      '--aud',
      'https://other',
    ]);
    assert.equal((wrongAud as { code?: number }).code, 1);
    assert.match(wrongAud.stdout, /not verified: ERR_GRANT_AUDIENCE/);
    const long = (
      await cli([
        'grant',
        'mint',
        '--intent',
        join(dir, 'intent.yaml'),
        '--sub',
        'agent:cli',
        '--key',
        join(dir, 'k', 'private.jwk.json'),
        '--ttl',
        '2h',
      ])
    ).stdout.trim();
    assert.match(
      (await cli(['grant', 'inspect', long, '--jwks', join(dir, 'k', 'jwks.json')])).stdout,
      /ERR_GRANT_TTL/,
    );
    const db = join(dir, 'intentguard.db');
    assert.match((await cli(['revoke', 'agent:cli', '--db', db])).stdout, /revoked subject agent:cli/);
    assert.match(
      (await cli(['grant', 'inspect', token, '--jwks', join(dir, 'k', 'jwks.json'), '--db', db])).stdout,
      /ERR_GRANT_REVOKED/,
    );
    const bad = await cli([
      'grant',
      'mint',
      '--intent',
      join(dir, 'intent.yaml'),
      '--sub',
      'x',
      '--key',
      join(dir, 'k', 'private.jwk.json'),
      '--ttl',
      'soon',
    ]);
    assert.match(bad.stderr, /ERR_DURATION/);
  });
});
