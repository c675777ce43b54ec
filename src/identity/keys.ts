import { readFileSync } from 'node:fs';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importJWK,
  importSPKI,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { IntentGuardError } from '../errors.js';

/** Asymmetric algorithms intentguard accepts by default. Never `none`; HMAC only when configured alone. */
export const DEFAULT_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;
const HMAC = new Set(['HS256', 'HS384', 'HS512']);

/** Where verification keys come from. Exactly one. */
export type KeySource =
  | { readonly jwksUrl: string; readonly cooldownMs?: number; readonly cacheMaxAgeMs?: number }
  | { readonly jwksFile: string }
  | { readonly jwks: JSONWebKeySet }
  | { readonly pemFile: string; readonly alg: string }
  | { readonly pem: string; readonly alg: string };

export interface ResolvedKeys {
  readonly getKey: JWTVerifyGetKey | CryptoKey;
  readonly algorithms: readonly string[];
}

/**
 * Build the key resolver. A JWKS URL is cached; an unknown `kid` triggers at most one refetch per
 * cooldown (default 30 s), so keys can rotate without letting tokens hammer the issuer.
 */
export async function resolveKeys(
  source: KeySource,
  algorithms: readonly string[] = DEFAULT_ALGORITHMS,
): Promise<ResolvedKeys> {
  if (algorithms.length === 0 || algorithms.some((a) => a.toLowerCase() === 'none')) {
    throw new IntentGuardError('ERR_GRANT_ALG', 'allowed algorithms must be pinned and never include "none"');
  }
  if (algorithms.some((a) => HMAC.has(a)) && algorithms.some((a) => !HMAC.has(a))) {
    throw new IntentGuardError(
      'ERR_GRANT_ALG',
      'HMAC algorithms cannot be allowed together with asymmetric ones',
    );
  }
  try {
    if ('jwksUrl' in source) {
      return {
        getKey: createRemoteJWKSet(new URL(source.jwksUrl), {
          cooldownDuration: source.cooldownMs ?? 30_000,
          cacheMaxAge: source.cacheMaxAgeMs ?? 600_000,
        }),
        algorithms,
      };
    }
    if ('jwksFile' in source || 'jwks' in source) {
      const jwks =
        'jwks' in source ? source.jwks : (JSON.parse(readFileSync(source.jwksFile, 'utf8')) as JSONWebKeySet);
      return { getKey: createLocalJWKSet(jwks), algorithms };
    }
    const pem = 'pem' in source ? source.pem : readFileSync(source.pemFile, 'utf8');
    if (!algorithms.includes(source.alg))
      throw new IntentGuardError(
        'ERR_GRANT_ALG',
        `the PEM key's algorithm ${source.alg} is not among the allowed ones`,
      );
    return { getKey: await importSPKI(pem, source.alg), algorithms: [source.alg] };
  } catch (e) {
    if (e instanceof IntentGuardError) throw e;
    throw new IntentGuardError('ERR_KEY_SOURCE', `cannot load verification keys: ${(e as Error).message}`);
  }
}

export interface GeneratedKeys {
  readonly kid: string;
  readonly alg: string;
  readonly privateJwk: JWK;
  readonly publicJwks: JSONWebKeySet;
  readonly privatePem: string;
  readonly publicPem: string;
}

/**
 * Generate a signing key pair for minting grants (development and tests): the private JWK, the public
 * JWKS to give intentguard, and PEM forms. `kid` is the RFC 7638 thumbprint.
 */
export async function generateKeys(alg = 'ES256'): Promise<GeneratedKeys> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  return {
    kid,
    alg,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' },
    publicJwks: { keys: [{ ...pub, kid, alg, use: 'sig' }] },
    privatePem: await exportPKCS8(privateKey),
    publicPem: await exportSPKI(publicKey),
  };
}

/** Import a private JWK (with its alg) for minting. */
export async function importSigningKey(
  jwk: JWK,
): Promise<{ key: CryptoKey | Uint8Array; alg: string; kid?: string }> {
  if (!jwk.alg) throw new IntentGuardError('ERR_KEY_SOURCE', 'the private JWK needs an "alg"');
  return { key: await importJWK(jwk, jwk.alg), alg: jwk.alg, ...(jwk.kid && { kid: jwk.kid }) };
}

/** The key source named by CLI-style options (`--jwks`, `--jwks-url`, `--pem` with `--alg`). */
export function keySourceFrom(opts: {
  jwks?: string;
  jwksUrl?: string;
  pem?: string;
  alg?: string;
}): KeySource {
  if (opts.jwksUrl) return { jwksUrl: opts.jwksUrl };
  if (opts.jwks) return { jwksFile: opts.jwks };
  if (opts.pem) return { pemFile: opts.pem, alg: opts.alg ?? 'ES256' };
  throw new IntentGuardError('ERR_KEY_SOURCE', 'give --jwks FILE, --jwks-url URL or --pem FILE');
}
