// The grant gate keeps verified grants under their token: taken again without a signature check, but
// never past expiry, revocation or REVERIFY_MS, and never for a token that differs in any byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMonitor } from '../../src/index.js';
import { createGrantGate } from '../../src/identity/gate.js';
import { GrantError, mintGrant, type GrantPolicy } from '../../src/identity/grant.js';
import { generateKeys, resolveKeys, type ResolvedKeys } from '../../src/identity/keys.js';
import { createRevocations } from '../../src/identity/revocations.js';
import { REVERIFY_MS } from '../../src/identity/verified.js';

const ISS = 'https://idp.test';
const AUD = 'https://intentguard.test/mcp';
const START = Date.parse('2026-11-26T10:00:00Z');

async function setup() {
  const keys = await generateKeys('ES256');
  const resolved = await resolveKeys({ jwks: keys.publicJwks });
  let lookups = 0;
  const getKey = resolved.getKey as (...a: unknown[]) => unknown;
  // Counts the signature checks: jose asks for the key once per verification.
  const counted: ResolvedKeys = {
    algorithms: resolved.algorithms,
    getKey: ((...a: unknown[]) => {
      lookups++;
      return getKey(...a);
    }) as ResolvedKeys['getKey'],
  };
  const clock = { now: START };
  const revocations = createRevocations(undefined, () => clock.now);
  const policy: Omit<GrantPolicy, 'isRevoked'> = {
    keys: counted,
    issuers: [ISS],
    audience: AUD,
    clock: () => clock.now,
  };
  const monitor = createMonitor();
  const gate = createGrantGate(monitor, policy, revocations);
  const token = await mintGrant({
    privateJwk: keys.privateJwk,
    iss: ISS,
    aud: AUD,
    sub: 'agent:a',
    ttl: '10m',
    intent: { purpose: 'p', tools: ['echo'] },
    now: START,
  });
  return { gate, monitor, token, clock, revocations, lookups: () => lookups };
}

const refused = async (p: Promise<unknown>, code: string) =>
  assert.rejects(p, (e: unknown) => e instanceof GrantError && e.code === code);

describe('verified grants kept by the gate', () => {
  it('a token presented again is taken without a second signature check', async () => {
    const t = await setup();
    const first = await t.gate.verify(t.token);
    const again = await t.gate.verify(t.token);
    assert.equal(again, first);
    assert.equal(t.lookups(), 1);
    t.monitor.close();
  });

  it('a kept grant revoked since is refused on its next request', async () => {
    const t = await setup();
    const g = await t.gate.verify(t.token);
    t.revocations.revoke({ jti: g.identity.jti! }, 'test', g.expiresAt);
    await refused(t.gate.verify(t.token), 'ERR_GRANT_REVOKED');
    t.monitor.close();
  });

  it('a kept grant past its expiry is refused (expiry is exact)', async () => {
    const t = await setup();
    const g = await t.gate.verify(t.token);
    t.clock.now = g.expiresAt;
    await refused(t.gate.verify(t.token), 'ERR_GRANT_EXPIRED');
    t.monitor.close();
  });

  it('a token differing from a kept one in its signature is verified on its own and refused', async () => {
    const t = await setup();
    await t.gate.verify(t.token);
    const [h, p, s] = t.token.split('.');
    const flipped = `${h}.${p}.${s!.slice(0, -2)}${s!.endsWith('AA') ? 'BB' : 'AA'}`;
    await refused(t.gate.verify(flipped), 'ERR_GRANT_SIGNATURE');
    assert.equal(t.lookups(), 2);
    t.monitor.close();
  });

  it('the signature is checked again once REVERIFY_MS have passed', async () => {
    const t = await setup();
    await t.gate.verify(t.token);
    t.clock.now += REVERIFY_MS;
    await t.gate.verify(t.token);
    assert.equal(t.lookups(), 2);
    t.monitor.close();
  });
});
