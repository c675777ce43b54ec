// Issue 11 §4, third finding: `iat: 1e300` in a validly signed grant was refused, but with no code (a
// RangeError escaped, and the 401 said ERR_GRANT_MISSING). Every refusal path of identity/ now carries
// its own code: claims of the wrong type or out of range, key sources that fail, revocations that
// cannot be read, and anything unexpected.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { ERROR_CODES } from '../../src/errors.js';
import { GrantError, verifyGrant, type GrantPolicy } from '../../src/identity/grant.js';
import { generateKeys, importSigningKey, resolveKeys } from '../../src/identity/keys.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { createRuntime } from '../../src/app/runtime.js';
import { httpUpstream } from '../helpers/http-upstream.js';
import { INIT, JSON_HEADERS, raw } from './raw-http.js';

const ISS = 'https://idp.test';
const AUD = 'https://intentguard.test/mcp';
const keys = await generateKeys('ES256');
const { key } = await importSigningKey(keys.privateJwk);
const resolved = await resolveKeys({ jwks: keys.publicJwks });
const policy: GrantPolicy = { keys: resolved, issuers: [ISS], audience: AUD };
const now = () => Math.floor(Date.now() / 1000);
const valid = () => ({
  iss: ISS,
  aud: AUD,
  sub: 'agent:x',
  jti: `j-${Math.random()}`,
  iat: now(),
  exp: now() + 300,
  intent: { purpose: 'echo things', tools: ['echo'] },
});
const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims as never).setProtectedHeader({ alg: 'ES256', kid: keys.kid }).sign(key);

const refusal = async (
  token: string | undefined,
  p: GrantPolicy = policy,
): Promise<GrantError | 'accepted'> => {
  try {
    await verifyGrant(token, p);
    return 'accepted';
  } catch (e) {
    assert.ok(
      e instanceof GrantError,
      `a refusal is a GrantError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
    );
    assert.ok(e.code in ERROR_CODES, `a documented code: ${e.code}`);
    assert.ok(e.message.length > 0);
    return e;
  }
};
const codeOf = async (token: string | undefined, p?: GrantPolicy) => {
  const r = await refusal(token, p);
  return r === 'accepted' ? r : r.code;
};

describe('every grant refusal carries its own code (issue 11 §4)', () => {
  it('iat: 1e300 in a validly signed grant is refused as ERR_GRANT_CLAIM, over HTTP too (not ERR_GRANT_MISSING)', async () => {
    assert.equal(await codeOf(await sign({ ...valid(), iat: 1e300 })), 'ERR_GRANT_CLAIM');
    const dir = mkdtempSync(join(tmpdir(), 'ig-codes-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.publicJwks));
    const upstream = await httpUpstream({ json: true });
    const runtime = await createRuntime({
      mode: 'enforce',
      db: false,
      pack: true,
      rules: [],
      log: () => undefined,
      auth: { jwks: join(dir, 'jwks.json'), issuers: [ISS], audience: AUD },
    });
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime });
    try {
      for (const claims of [
        { iat: 1e300 },
        { exp: 1e300 },
        { nbf: 1e300 },
        { iat: -1 },
        { act: null },
        { iat: 'soon' },
      ]) {
        const r = await raw(proxy.url, {
          headers: { ...JSON_HEADERS, authorization: `Bearer ${await sign({ ...valid(), ...claims })}` },
          body: JSON.stringify(INIT),
        });
        assert.equal(r.status, 401);
        assert.equal(r.code, 'ERR_GRANT_CLAIM', JSON.stringify(claims));
        assert.match(
          String(r.headers['www-authenticate']),
          /error="invalid_token", error_description="ERR_GRANT_CLAIM: /,
        );
      }
      assert.equal(upstream.seen.length, 0, 'nothing was forwarded');
      const missing = await raw(proxy.url, { headers: JSON_HEADERS, body: JSON.stringify(INIT) });
      assert.equal(missing.code, 'ERR_GRANT_MISSING', 'only an absent token is "missing"');
      // A credential of another scheme, or a Bearer without a token, was presented: malformed, not missing.
      for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer   ', 'Token abc', 'eyJhbGciOi']) {
        const r = await raw(proxy.url, {
          headers: { ...JSON_HEADERS, authorization },
          body: JSON.stringify(INIT),
        });
        assert.equal(r.status, 401);
        assert.equal(r.code, 'ERR_GRANT_MALFORMED', authorization);
      }
      // The scheme is case-insensitive (RFC 9110): a lower-case bearer is read, and its grant's own problem reported.
      const lower = await raw(proxy.url, {
        headers: { ...JSON_HEADERS, authorization: `bearer ${await sign({ ...valid(), iat: 1e300 })}` },
        body: JSON.stringify(INIT),
      });
      assert.equal(lower.code, 'ERR_GRANT_CLAIM');
    } finally {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    }
  });

  it('a claim of the wrong type, out of range or malformed is refused with the code for that claim (property over bad claims)', async () => {
    const junk = fc.oneof(
      fc.constantFrom(
        1e300,
        -1e300,
        -1,
        0.5,
        2 ** 53,
        Number.MAX_VALUE,
        253_402_300_800,
        '',
        'x',
        null,
        true,
        [],
        {},
        [1],
        { sub: 5 },
      ),
      fc.double({
        noNaN: true,
        noDefaultInfinity: true,
      }) /* JSON has no infinities: jose refuses to sign them */,
      fc.string({ maxLength: 8 }),
      fc.array(fc.integer(), { maxLength: 2 }),
    );
    const expected: Record<string, (v: unknown) => readonly string[]> = {
      iat: () => ['ERR_GRANT_CLAIM', 'ERR_GRANT_NOT_YET_VALID', 'ERR_GRANT_TTL'],
      exp: () => ['ERR_GRANT_CLAIM', 'ERR_GRANT_EXPIRED', 'ERR_GRANT_TTL'],
      nbf: () => ['ERR_GRANT_CLAIM', 'ERR_GRANT_NOT_YET_VALID'],
      sub: () => ['ERR_GRANT_CLAIM'],
      jti: () => ['ERR_GRANT_CLAIM'],
      act: () => ['ERR_GRANT_CLAIM'],
      intent: () => ['ERR_GRANT_INTENT'],
      iss: () => ['ERR_GRANT_ISSUER', 'ERR_GRANT_CLAIM'],
      aud: () => ['ERR_GRANT_AUDIENCE', 'ERR_GRANT_CLAIM'],
    };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(expected)), junk, async (claim, value) => {
        const r = await refusal(await sign({ ...valid(), [claim]: value }));
        if (r === 'accepted') {
          // Only a value that is genuinely fine for that claim may pass (an in-range date, a string sub).
          const ok =
            (claim === 'nbf' && typeof value === 'number' && value >= 0 && value <= now() + 30) ||
            ((claim === 'sub' || claim === 'jti') && typeof value === 'string' && value !== '') ||
            (claim === 'act' &&
              typeof value === 'object' &&
              value !== null &&
              typeof (value as { sub?: unknown }).sub === 'string');
          assert.ok(ok, `${claim}=${JSON.stringify(value)} was accepted`);
          return;
        }
        assert.ok(r.code !== 'ERR_GRANT_MISSING');
        assert.ok(
          expected[claim]!(value).includes(r.code),
          `${claim}=${JSON.stringify(value)} → ${r.code}: ${r.message}`,
        );
        // Wrong types and dates no clock can hold are malformed claims, never "expired" or "not yet valid".
        if (
          (claim === 'iat' || claim === 'exp' || claim === 'nbf') &&
          (typeof value !== 'number' || value < 0 || value > 253_402_300_799)
        )
          assert.equal(r.code, 'ERR_GRANT_CLAIM', `${claim}=${JSON.stringify(value)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('any presented token, however garbled, is refused with a code other than ERR_GRANT_MISSING (property)', async () => {
    const part = fc.oneof(
      fc
        .base64String({ maxLength: 40 })
        .map((s) => s.replace(/=/g, '').replace(/\+/g, '-').replace(/\//g, '_')),
      fc.string({ maxLength: 20 }),
    );
    const good = await sign(valid());
    const token = fc.oneof(
      fc.tuple(part, part, part).map((p) => p.join('.')),
      fc.string({ minLength: 1, maxLength: 60 }),
      // Flipped in the signed part only: a signature's last base64url character carries spare bits.
      fc
        .tuple(fc.nat({ max: good.lastIndexOf('.') - 1 }), fc.string({ minLength: 1, maxLength: 1 }))
        .map(([i, c]) => `${good.slice(0, i)}${c}${good.slice(i + 1)}`),
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        const r = await refusal(t);
        if (r === 'accepted') return assert.equal(t, good);
        assert.ok(
          r.code.startsWith('ERR_GRANT_') && r.code !== 'ERR_GRANT_MISSING',
          `${JSON.stringify(t)} → ${r.code}`,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('a key source that fails is ERR_KEY_SOURCE, and unreadable revocations are ERR_STORE, never a malformed-token code', async () => {
    const token = await sign(valid());
    const down = createServer((_q, res) => res.writeHead(500).end('no'));
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    const notJson = createServer((_q, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>'),
    );
    await new Promise<void>((r) => notJson.listen(0, '127.0.0.1', r));
    const notKeys = createServer((_q, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": 5}'),
    );
    await new Promise<void>((r) => notKeys.listen(0, '127.0.0.1', r));
    try {
      const url = (s: typeof down) => `http://127.0.0.1:${(s.address() as { port: number }).port}/jwks.json`;
      for (const jwksUrl of [url(down), url(notJson), url(notKeys), 'http://127.0.0.1:1/jwks.json']) {
        assert.equal(
          await codeOf(token, { ...policy, keys: await resolveKeys({ jwksUrl }) }),
          'ERR_KEY_SOURCE',
          jwksUrl,
        );
      }
      assert.equal(
        await codeOf(token, {
          ...policy,
          isRevoked: () => {
            throw new Error('SQLITE_IOERR: disk I/O error');
          },
        }),
        'ERR_STORE',
      );
      assert.equal(await codeOf(token, { ...policy, isRevoked: () => true }), 'ERR_GRANT_REVOKED');
      assert.equal(await codeOf(token), 'accepted');
    } finally {
      down.close();
      notJson.close();
      notKeys.close();
    }
  });
});
