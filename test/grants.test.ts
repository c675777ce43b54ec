import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CompactEncrypt, CompactSign, SignJWT, base64url, generateKeyPair, importJWK } from 'jose';
import { createMonitor, grantGuard, intentPolicy, type Alert } from '../src/index.js';
import { createGrantGate } from '../src/identity/gate.js';
import { GrantError, mintGrant, verifyGrant, type GrantPolicy } from '../src/identity/grant.js';
import { generateKeys, resolveKeys } from '../src/identity/keys.js';
import { createRevocations } from '../src/identity/revocations.js';
import { tapWithGrant } from '../src/app/tap-grant.js';
import { demoServer } from './helpers/servers.js';

const ISS = 'https://idp.test';
const AUD = 'https://intentguard.test/mcp';
const intent = { purpose: 'summarise notes', tools: ['echo', 'read_notes'] };
const NOW = Date.parse('2026-11-26T10:00:00Z');

async function setup() {
  const good = await generateKeys('ES256');
  const other = await generateKeys('ES256');
  const keys = await resolveKeys({ jwks: good.publicJwks });
  const revocations = createRevocations(undefined, () => NOW);
  const policy: GrantPolicy = {
    keys,
    issuers: [ISS],
    audience: AUD,
    clock: () => NOW,
    isRevoked: (j, s, n) => revocations.isRevoked(j, s, n),
  };
  const mint = (over: Partial<Parameters<typeof mintGrant>[0]> = {}) =>
    mintGrant({
      privateJwk: good.privateJwk,
      iss: ISS,
      aud: AUD,
      sub: 'agent:summariser',
      ttl: '10m',
      intent,
      now: NOW,
      ...over,
    });
  return { good, other, keys, policy, revocations, mint };
}

/** A real Client and McpServer, connected through a tap opened with this grant. */
async function grantedClient(
  monitor: ReturnType<typeof createMonitor>,
  gate: ReturnType<typeof createGrantGate>,
  token: string,
) {
  const [c, s] = InMemoryTransport.createLinkedPair();
  await demoServer().connect(s);
  const client = new Client({ name: 'a', version: '1' });
  const transport = await tapWithGrant(c, monitor, gate, token, { side: 'client' });
  await client.connect(transport);
  return { client, transport };
}

const sign = async (
  jwk: Parameters<typeof importJWK>[0],
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
) =>
  new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header as never)
    // Let the attacker's signer emit any crit extension it likes.
    .sign(await importJWK(jwk, String(header.alg)), {
      crit: Object.fromEntries(((header.crit as string[] | undefined) ?? []).map((c) => [c, true])),
    });

const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISS,
  aud: AUD,
  sub: 'agent:x',
  iat: NOW / 1000,
  exp: NOW / 1000 + 300,
  jti: 'j-1',
  intent,
  ...over,
});

describe('JWT attack suite: every malicious grant is refused with its own code', () => {
  const cases: [string, (t: Awaited<ReturnType<typeof setup>>) => Promise<string | undefined>, string][] = [
    ['no token', async () => undefined, 'ERR_GRANT_MISSING'],
    [
      'alg none',
      async () =>
        `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims()))}.`,
      'ERR_GRANT_ALG',
    ],
    [
      'HS256 signed with the public key (algorithm confusion)',
      async ({ good }) => {
        const secret = new TextEncoder().encode(JSON.stringify(good.publicJwks.keys[0]));
        return new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: good.kid }).sign(secret);
      },
      'ERR_GRANT_ALG',
    ],
    [
      'HS256 signed with the PEM public key',
      async ({ good }) =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(good.publicPem)),
      'ERR_GRANT_ALG',
    ],
    ['expired', async ({ mint }) => mint({ now: NOW - 3_600_000 }), 'ERR_GRANT_EXPIRED'],
    [
      'nbf in the future',
      async ({ good }) =>
        sign(good.privateJwk, { alg: 'ES256', kid: good.kid }, claims({ nbf: NOW / 1000 + 600 })),
      'ERR_GRANT_NOT_YET_VALID',
    ],
    ['iat in the future', async ({ mint }) => mint({ now: NOW + 600_000 }), 'ERR_GRANT_NOT_YET_VALID'],
    ['wrong issuer', async ({ mint }) => mint({ iss: 'https://evil-idp.test' }), 'ERR_GRANT_ISSUER'],
    [
      'wrong audience',
      async ({ mint }) => mint({ aud: 'https://intentguard.test/other' }),
      'ERR_GRANT_AUDIENCE',
    ],
    [
      'a token minted for another resource',
      async ({ mint }) => mint({ aud: 'https://api.github.test' }),
      'ERR_GRANT_AUDIENCE',
    ],
    [
      'missing sub',
      async ({ good }) => sign(good.privateJwk, { alg: 'ES256', kid: good.kid }, claims({ sub: undefined })),
      'ERR_GRANT_CLAIM',
    ],
    [
      'missing jti',
      async ({ good }) => sign(good.privateJwk, { alg: 'ES256', kid: good.kid }, claims({ jti: undefined })),
      'ERR_GRANT_CLAIM',
    ],
    [
      'unknown kid',
      async ({ other }) => sign(other.privateJwk, { alg: 'ES256', kid: other.kid }, claims()),
      'ERR_GRANT_KEY_UNKNOWN',
    ],
    [
      'right kid, wrong key',
      async ({ good, other }) => sign(other.privateJwk, { alg: 'ES256', kid: good.kid }, claims()),
      'ERR_GRANT_SIGNATURE',
    ],
    [
      'tampered payload',
      async ({ mint }) => {
        const [h, , s] = (await mint()).split('.');
        return `${h}.${base64url.encode(JSON.stringify(claims({ sub: 'agent:admin' })))}.${s}`;
      },
      'ERR_GRANT_SIGNATURE',
    ],
    [
      'jku header injection (ignored)',
      async ({ other }) =>
        sign(
          other.privateJwk,
          { alg: 'ES256', kid: other.kid, jku: 'https://evil.test/jwks.json' },
          claims(),
        ),
      'ERR_GRANT_KEY_UNKNOWN',
    ],
    [
      'jwk header injection (ignored)',
      async ({ other }) =>
        sign(other.privateJwk, { alg: 'ES256', kid: other.kid, jwk: other.publicJwks.keys[0] }, claims()),
      'ERR_GRANT_KEY_UNKNOWN',
    ],
    [
      'x5u header injection (ignored)',
      async ({ other }) =>
        sign(other.privateJwk, { alg: 'ES256', kid: other.kid, x5u: 'https://evil.test/cert.pem' }, claims()),
      'ERR_GRANT_KEY_UNKNOWN',
    ],
    [
      'unknown crit',
      async ({ good }) =>
        sign(
          good.privateJwk,
          { alg: 'ES256', kid: good.kid, crit: ['urn:evil'], 'urn:evil': true },
          claims(),
        ),
      'ERR_GRANT_CRIT',
    ],
    [
      'oversized token',
      async ({ good }) =>
        sign(good.privateJwk, { alg: 'ES256', kid: good.kid }, claims({ pad: 'x'.repeat(10_000) })),
      'ERR_GRANT_TOO_LARGE',
    ],
    ['broken base64', async ({ mint }) => (await mint()).replace(/^ey/, 'e$'), 'ERR_GRANT_MALFORMED'],
    [
      'payload not JSON',
      async ({ good }) => {
        const t = await sign(good.privateJwk, { alg: 'ES256', kid: good.kid }, claims());
        const [h, , s] = t.split('.');
        return `${h}.${base64url.encode('not json')}.${s}`;
      },
      'ERR_GRANT_MALFORMED',
    ],
    [
      'a JWE instead of a JWS',
      async () => {
        const { publicKey } = await generateKeyPair('ECDH-ES', { extractable: true });
        return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims())))
          .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' })
          .encrypt(publicKey);
      },
      'ERR_GRANT_JWE',
    ],
    [
      'revoked jti',
      async ({ mint, revocations }) => {
        revocations.revoke({ jti: 'revoked-1' }, 'test');
        return mint({ jti: 'revoked-1' });
      },
      'ERR_GRANT_REVOKED',
    ],
    [
      'revoked subject',
      async ({ mint, revocations }) => {
        revocations.revoke({ sub: 'agent:fired' }, 'test');
        return mint({ sub: 'agent:fired' });
      },
      'ERR_GRANT_REVOKED',
    ],
    ['TTL beyond policy', async ({ mint }) => mint({ ttl: '2h' }), 'ERR_GRANT_TTL'],
    [
      'invalid intent claim',
      async ({ mint }) => mint({ intent: { purpose: '', tools: 'all' } }),
      'ERR_GRANT_INTENT',
    ],
    [
      'no intent claim and no default',
      async ({ good }) =>
        sign(good.privateJwk, { alg: 'ES256', kid: good.kid }, claims({ intent: undefined })),
      'ERR_GRANT_INTENT',
    ],
  ];

  for (const [name, make, code] of cases) {
    it(`${name} → ${code}, and nothing reaches the server`, async () => {
      const t = await setup();
      const token = await make(t);
      const monitor = createMonitor();
      const gate = createGrantGate(monitor, t.policy, t.revocations);
      const server = demoServer();
      let seen = 0;
      const [c, s] = InMemoryTransport.createLinkedPair();
      await server.connect(s);
      const prev = s.onmessage!;
      s.onmessage = (m, e) => {
        seen++;
        prev(m, e);
      };
      await assert.rejects(tapWithGrant(c, monitor, gate, token, { side: 'client' }), (e: unknown) => {
        assert.ok(e instanceof GrantError, String(e));
        assert.equal(e.code, code, e.message);
        return true;
      });
      assert.equal(seen, 0);
      assert.equal(monitor.stats().sessions, 0);
      monitor.close();
    });
  }
  assert.ok(cases.length >= 20);

  it('a valid grant opens a session bound to its identity and intent', async () => {
    const t = await setup();
    const token = await t.mint({ act: 'user:alice' });
    const grant = await verifyGrant(token, t.policy);
    assert.equal(grant.identity.sub, 'agent:summariser');
    assert.equal(grant.identity.act?.sub, 'user:alice');
    assert.deepEqual(grant.intent.tools, [{ name: 'echo' }, { name: 'read_notes' }]);
    const monitor = createMonitor();
    const gate = createGrantGate(monitor, t.policy, t.revocations);
    const { client, transport } = await grantedClient(monitor, gate, token);
    const decisions: { identity?: { sub: string } }[] = [];
    monitor.decisions$.subscribe((d) => decisions.push(d));
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    assert.ok(decisions.every((d) => d.identity?.sub === 'agent:summariser'));
    assert.equal(transport.session.state().identity?.jti, grant.identity.jti);
    await client.close();
    monitor.close();
  });

  it('the same jti in two concurrent sessions is reported as a shared credential', async () => {
    const t = await setup();
    const token = await t.mint();
    const monitor = createMonitor();
    const alerts: Alert[] = [];
    monitor.alerts$.subscribe((a) => alerts.push(a));
    const gate = createGrantGate(monitor, t.policy, t.revocations);
    for (let i = 0; i < 2; i++) await grantedClient(monitor, gate, token);
    assert.ok(alerts.some((a) => a.rule === 'identity/shared-credential' && a.code === 'ERR_GRANT_SHARED'));
    monitor.close();
  });

  it('a halted session revokes its grant: the same token opens no new session', async () => {
    const t = await setup();
    const token = await t.mint({ intent: { ...intent, budget: { calls: 1 } } });
    const monitor = createMonitor();
    const gate = createGrantGate(monitor, t.policy, t.revocations);
    const { client, transport } = await grantedClient(monitor, gate, token);
    await client.callTool({ name: 'echo', arguments: { text: '1' } });
    await assert.rejects(client.callTool({ name: 'echo', arguments: { text: '2' } }));
    await transport.session.whenEnded();
    const [c2] = InMemoryTransport.createLinkedPair();
    await assert.rejects(
      tapWithGrant(c2, monitor, gate, token, { side: 'client' }),
      (e: GrantError) => e.code === 'ERR_GRANT_REVOKED',
    );
    monitor.close();
  });

  it('a grant stays checked while its session lives: calls after its expiry are denied, and a revocation halts the session', async () => {
    const t = await setup();
    let now = NOW;
    const monitor = createMonitor({ clock: () => now, policy: [intentPolicy(), grantGuard(t.revocations)] });
    const gate = createGrantGate(monitor, t.policy, t.revocations);
    const { client } = await grantedClient(monitor, gate, await t.mint({ ttl: '10m' }));
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'in time' } })).content, [
      { type: 'text', text: 'in time' },
    ]);
    now = NOW + 10 * 60_000 + 1;
    await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 'late' } }), (e: unknown) => {
      assert.equal((e as { data?: { code?: string } }).data?.code, 'ERR_GRANT_EXPIRED');
      return true;
    });
    now = NOW;
    const second = await grantedClient(monitor, gate, await t.mint({ jti: 'j-live' } as never));
    assert.ok(await second.client.callTool({ name: 'echo', arguments: { text: 'before' } }));
    t.revocations.revoke({ jti: 'j-live' }, 'stolen laptop', NOW + 3_600_000);
    await assert.rejects(
      second.client.callTool({ name: 'echo', arguments: { text: 'after' } }),
      (e: unknown) => {
        assert.equal((e as { data?: { code?: string } }).data?.code, 'ERR_SESSION_HALTED');
        return true;
      },
    );
    const ended = await second.transport.session.whenEnded();
    assert.equal(ended.status, 'halted');
    assert.match(ended.endReason ?? '', /revoked while this session was open/);
    monitor.close();
  });

  it('keys: JWKS file and PEM sources verify; HMAC mixed with asymmetric and "none" are refused at configuration', async () => {
    const t = await setup();
    const token = await t.mint();
    const pem = await resolveKeys({ pem: t.good.publicPem, alg: 'ES256' });
    assert.equal((await verifyGrant(token, { ...t.policy, keys: pem })).identity.sub, 'agent:summariser');
    await assert.rejects(
      resolveKeys({ jwks: t.good.publicJwks }, ['ES256', 'HS256']),
      (e: GrantError) => e.code === 'ERR_GRANT_ALG',
    );
    await assert.rejects(
      resolveKeys({ jwks: t.good.publicJwks }, ['none']),
      (e: GrantError) => e.code === 'ERR_GRANT_ALG',
    );
  });
});
