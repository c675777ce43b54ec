import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { IntentGuardError, type ErrorCode } from '../errors.js';
import type { Identity } from '../model/events.js';
import { parseIntent } from '../intent/parse.js';
import type { Intent } from '../model/intent.js';
import { parseDuration } from '../lib/duration.js';
import { importSigningKey, type ResolvedKeys } from './keys.js';

/** A verified grant: who the agent is and what it was approved to do. */
export interface VerifiedGrant {
  readonly identity: Identity;
  readonly intent: Intent;
  readonly claims: JWTPayload;
  readonly expiresAt: number;
  readonly token: string;
}

export interface GrantPolicy {
  readonly keys: ResolvedKeys;
  /** Trusted issuers. */
  readonly issuers: readonly string[];
  /** intentguard's own resource identifier: the `aud` every grant must carry. */
  readonly audience: string;
  /** Longest accepted lifetime (exp - iat). Default 15 minutes. */
  readonly maxTtlMs?: number;
  /** Clock skew tolerated on nbf/iat (an issuer's clock a little ahead). Default 30 s. Expiry is exact. */
  readonly clockToleranceMs?: number;
  /** Largest accepted token. Default 8 KiB. */
  readonly maxTokenBytes?: number;
  /** Used when a grant carries no `intent` claim. Without it such grants are refused. */
  readonly defaultIntent?: Intent;
  /** Is this jti or sub revoked? */
  readonly isRevoked?: (jti: string, sub: string, now: number) => boolean;
  readonly clock?: () => number;
}

/** The clock tolerance on `nbf`/`iat` that the proxies and `grant inspect` share; `exp` has none. */
const CLOCK_TOLERANCE_MS = 30_000;

/** The tolerance in words, for outputs that state it. */
export const toleranceText = (ms = CLOCK_TOLERANCE_MS) =>
  `clock tolerance ${Math.round(ms / 1000)} s on nbf/iat, none on exp`;

/** A refused grant: a stable code, never forwarded. */
export class GrantError extends IntentGuardError {}

const fail = (code: ErrorCode, message: string): never => {
  throw new GrantError(code, message);
};

function mapJoseError(e: unknown): never {
  if (e instanceof GrantError) throw e;
  const err = e as { code?: string; claim?: string; message?: string };
  const msg = err.message ?? String(e);
  // jose checks time claims after the signature: a date no clock can hold is malformed, not "expired".
  const verified = (e as { payload?: JWTPayload }).payload;
  if (
    verified &&
    (err.code === joseErrors.JWTExpired.code || err.code === joseErrors.JWTClaimValidationFailed.code)
  )
    checkNumericDates(verified, false);
  switch (err.code) {
    case joseErrors.JWTExpired.code:
      return fail('ERR_GRANT_EXPIRED', `grant expired: ${msg}`);
    case joseErrors.JOSEAlgNotAllowed.code:
      return fail('ERR_GRANT_ALG', `algorithm not allowed: ${msg}`);
    case joseErrors.JWSSignatureVerificationFailed.code:
      return fail('ERR_GRANT_SIGNATURE', 'signature verification failed');
    case joseErrors.JWKSNoMatchingKey.code:
      return fail('ERR_GRANT_KEY_UNKNOWN', 'no configured key matches the grant header (kid/alg)');
    case joseErrors.JWKSMultipleMatchingKeys.code:
      return fail('ERR_GRANT_KEY_UNKNOWN', 'several keys match and none verifies');
    case joseErrors.JWTClaimValidationFailed.code: {
      // A claim that is missing or of the wrong type is malformed, whichever claim it is.
      if (
        (err as { reason?: string }).reason === 'missing' ||
        (err as { reason?: string }).reason === 'invalid'
      )
        return fail('ERR_GRANT_CLAIM', `claim "${err.claim}": ${msg}`);
      if (err.claim === 'iss') return fail('ERR_GRANT_ISSUER', `untrusted issuer: ${msg}`);
      if (err.claim === 'aud') return fail('ERR_GRANT_AUDIENCE', `minted for another resource: ${msg}`);
      if (err.claim === 'nbf' || err.claim === 'iat')
        return fail('ERR_GRANT_NOT_YET_VALID', `not valid yet: ${msg}`);
      return fail('ERR_GRANT_CLAIM', `claim "${err.claim}": ${msg}`);
    }
    case joseErrors.JOSENotSupported.code:
      return /crit|Extension Header Parameter/i.test(msg)
        ? fail('ERR_GRANT_CRIT', msg)
        : fail('ERR_GRANT_ALG', msg);
    case joseErrors.JWSInvalid.code:
      return /crit|Extension Header Parameter/i.test(msg)
        ? fail('ERR_GRANT_CRIT', msg)
        : fail('ERR_GRANT_MALFORMED', `malformed JWS: ${msg}`);
    case joseErrors.JWTInvalid.code:
      return fail('ERR_GRANT_MALFORMED', `malformed JWT: ${msg}`);
    case joseErrors.JWKSTimeout.code:
      return fail('ERR_KEY_SOURCE', `JWKS fetch timed out: ${msg}`);
    case joseErrors.JWKSInvalid.code:
      return fail('ERR_KEY_SOURCE', `the key set is invalid: ${msg}`);
    default:
      return fail('ERR_GRANT_MALFORMED', msg);
  }
}

/** Latest NumericDate accepted (9999-12-31T23:59:59Z): beyond it a date cannot even be printed. */
const MAX_NUMERIC_DATE = 253_402_300_799;

/** `iat`, `exp` and `nbf`, when present, must be NumericDates a clock can hold (not 1e300, not negative). */
function checkNumericDates(payload: JWTPayload, required = true): void {
  for (const claim of ['iat', 'exp', 'nbf'] as const) {
    const v = payload[claim];
    if (v === undefined && (claim === 'nbf' || !required)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_NUMERIC_DATE) {
      fail(
        'ERR_GRANT_CLAIM',
        `claim "${claim}" must be a NumericDate between 0 and ${MAX_NUMERIC_DATE} (year 9999), got ${JSON.stringify(v)?.slice(0, 40)}`,
      );
    }
  }
}

/**
 * A key resolver whose failures to load keys (a JWKS URL down, not JSON, not a key set) are
 * `ERR_KEY_SOURCE`, told apart from a token whose key is unknown.
 */
function keyResolver(getKey: GrantPolicy['keys']['getKey']): GrantPolicy['keys']['getKey'] {
  if (typeof getKey !== 'function') return getKey;
  return (async (header: Parameters<typeof getKey>[0], token: Parameters<typeof getKey>[1]) => {
    try {
      return await getKey(header, token);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (
        code === joseErrors.JWKSNoMatchingKey.code ||
        code === joseErrors.JWKSMultipleMatchingKeys.code ||
        code === joseErrors.JOSENotSupported.code
      )
        throw e;
      if (code === joseErrors.JWKSTimeout.code) throw e;
      throw new GrantError('ERR_KEY_SOURCE', `cannot load verification keys: ${(e as Error).message}`);
    }
  }) as typeof getKey;
}

/**
 * Verify a grant and bind it to an identity and an intent. Every refusal is a {@link GrantError}
 * with a stable code of its own (never "missing" for a token that was presented); anything
 * unexpected while verifying is a refusal too (`ERR_GRANT_MALFORMED`), never an error without a
 * code. Nothing of the session is forwarded before this returns.
 * @example const grant = await verifyGrant(token, { keys, issuers: ['https://idp.corp'], audience: 'https://intentguard.corp/mcp' })
 */
export async function verifyGrant(token: string | undefined, policy: GrantPolicy): Promise<VerifiedGrant> {
  try {
    return await verify(token, policy);
  } catch (e) {
    if (e instanceof GrantError) throw e;
    throw new GrantError(
      'ERR_GRANT_MALFORMED',
      `the grant cannot be verified: ${(e as Error)?.message ?? String(e)}`,
    );
  }
}

async function verify(token: string | undefined, policy: GrantPolicy): Promise<VerifiedGrant> {
  if (!token) return fail('ERR_GRANT_MISSING', 'no bearer token');
  if (Buffer.byteLength(token) > (policy.maxTokenBytes ?? 8192))
    fail(
      'ERR_GRANT_TOO_LARGE',
      `token of ${Buffer.byteLength(token)} bytes exceeds ${policy.maxTokenBytes ?? 8192}`,
    );
  const parts = token.split('.');
  if (parts.length === 5) fail('ERR_GRANT_JWE', 'an encrypted JWE was presented; grants must be signed JWS');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[0] || !parts[1])
    fail('ERR_GRANT_MALFORMED', 'not a compact JWS (three base64url parts)');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
    decodeJwt(token);
  } catch (e) {
    return fail('ERR_GRANT_MALFORMED', `cannot decode: ${(e as Error).message}`);
  }
  if (!header.alg || header.alg.toLowerCase() === 'none')
    fail('ERR_GRANT_ALG', 'alg "none" is never accepted');
  if (!policy.keys.algorithms.includes(header.alg!))
    fail('ERR_GRANT_ALG', `alg ${header.alg} is not among the allowed ${policy.keys.algorithms.join(', ')}`);
  const now = policy.clock?.() ?? Date.now();
  let payload: JWTPayload;
  try {
    const result = await jwtVerify(
      token,
      keyResolver(policy.keys.getKey) as Parameters<typeof jwtVerify>[1],
      {
        algorithms: [...policy.keys.algorithms],
        issuer: [...policy.issuers],
        audience: policy.audience,
        clockTolerance: Math.round((policy.clockToleranceMs ?? CLOCK_TOLERANCE_MS) / 1000),
        currentDate: new Date(now),
        requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti'],
      },
    );
    payload = result.payload;
  } catch (e) {
    return mapJoseError(e);
  }
  checkNumericDates(payload);
  // Expiry is exact, as the in-session check (grant-guard) has it: a grant is never accepted at the
  // door only to have its first request refused as expired.
  if (payload.exp! * 1000 <= now)
    fail('ERR_GRANT_EXPIRED', `grant expired at ${new Date(payload.exp! * 1000).toISOString()}`);
  if (payload.iat! * 1000 > now + (policy.clockToleranceMs ?? CLOCK_TOLERANCE_MS))
    fail(
      'ERR_GRANT_NOT_YET_VALID',
      `issued in the future (iat ${new Date(payload.iat! * 1000).toISOString()})`,
    );
  if (typeof payload.sub !== 'string' || payload.sub === '')
    fail('ERR_GRANT_CLAIM', 'sub must be a non-empty string');
  if (typeof payload.jti !== 'string' || payload.jti === '')
    fail('ERR_GRANT_CLAIM', 'jti must be a non-empty string');
  const ttl = (payload.exp! - payload.iat!) * 1000;
  const maxTtl = policy.maxTtlMs ?? 15 * 60_000;
  if (ttl > maxTtl)
    fail(
      'ERR_GRANT_TTL',
      `grant lives ${Math.round(ttl / 1000)} s; the maximum is ${Math.round(maxTtl / 1000)} s`,
    );
  let revoked: boolean | undefined;
  try {
    revoked = policy.isRevoked?.(payload.jti!, payload.sub!, now);
  } catch (e) {
    // Revocations that cannot be read: refused (fail closed), under the store's code.
    return fail(
      (e as { code?: ErrorCode }).code?.startsWith('ERR_STORE')
        ? (e as { code: ErrorCode }).code
        : 'ERR_STORE',
      `cannot check revocations: ${(e as Error).message}`,
    );
  }
  if (revoked) fail('ERR_GRANT_REVOKED', `grant ${payload.jti} (sub ${payload.sub}) is revoked`);
  let intent: Intent;
  try {
    intent =
      payload.intent !== undefined
        ? parseIntent(payload.intent)
        : (policy.defaultIntent ??
          fail('ERR_GRANT_INTENT', 'the grant has no intent claim and no default intent is configured'));
  } catch (e) {
    if (e instanceof GrantError) throw e;
    return fail('ERR_GRANT_INTENT', `the intent claim is invalid: ${(e as Error).message}`);
  }
  const act = payload.act as { sub?: unknown } | undefined;
  if (
    act !== undefined &&
    (act === null || typeof act !== 'object' || Array.isArray(act) || typeof act.sub !== 'string')
  )
    fail('ERR_GRANT_CLAIM', 'act must be {sub: string}');
  const identity: Identity = {
    sub: payload.sub!,
    iss: payload.iss!,
    jti: payload.jti!,
    expiresAt: payload.exp! * 1000,
    ...(act && { act: { sub: act.sub as string } }),
  };
  return { identity, intent, claims: payload, expiresAt: payload.exp! * 1000, token };
}

export interface MintOptions {
  readonly privateJwk: JWK;
  readonly iss: string;
  readonly aud: string;
  readonly sub: string;
  readonly ttl: string | number;
  readonly intent?: unknown;
  readonly act?: string;
  readonly jti?: string;
  readonly now?: number;
}

/** Mint a grant (development and tests). */
export async function mintGrant(o: MintOptions): Promise<string> {
  const { key, alg, kid } = await importSigningKey(o.privateJwk);
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  const ttl = Math.floor(parseDuration(o.ttl) / 1000);
  const claims: JWTPayload = {
    ...(o.intent !== undefined && { intent: o.intent }),
    ...(o.act && { act: { sub: o.act } }),
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...(kid && { kid }), typ: 'JWT' })
    .setIssuer(o.iss)
    .setAudience(o.aud)
    .setSubject(o.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .setJti(o.jti ?? randomUUID())
    .sign(key);
}
