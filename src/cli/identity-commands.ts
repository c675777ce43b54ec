import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { GrantError, mintGrant, toleranceText, verifyGrant } from '../identity/grant.js';
import { DEFAULT_ALGORITHMS, generateKeys, keySourceFrom, resolveKeys } from '../identity/keys.js';
import { createRevocations, liftRevocation } from '../identity/revocations.js';
import { parseStoreLocation } from '../store/location.js';
import { readIntentDocument } from '../app/runtime.js';
import { parseDuration } from '../lib/duration.js';
import { openStore } from '../store/db.js';
import { IntentGuardError } from '../errors.js';

type Out = NodeJS.WritableStream;

/** Where `keys generate` writes the public key set by default. */
const DEFAULT_JWKS = join('keys', 'jwks.json');

/** `intentguard keys generate`: a signing key pair for minting grants (development and tests). */
export async function keysGenerateCommand(
  opts: { out: string; alg: string; force?: boolean },
  out: Out = process.stdout,
): Promise<number> {
  if (!(DEFAULT_ALGORITHMS as readonly string[]).includes(opts.alg))
    throw new IntentGuardError(
      'ERR_CONFIG',
      `--alg must be one of ${DEFAULT_ALGORITHMS.join(', ')}, got ${opts.alg}`,
    );
  // Replacing the private key silently would strand every grant signed with it: only on request.
  const existing = join(opts.out, 'private.jwk.json');
  if (existsSync(existing) && !opts.force)
    throw new IntentGuardError(
      'ERR_KEY_EXISTS',
      `${existing} exists; give --force to replace it (grants signed with the old key stop verifying once its JWKS is replaced)`,
    );
  const k = await generateKeys(opts.alg);
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'private.jwk.json'), `${JSON.stringify(k.privateJwk, null, 2)}\n`, {
    mode: 0o600,
  });
  writeFileSync(join(opts.out, 'jwks.json'), `${JSON.stringify(k.publicJwks, null, 2)}\n`);
  writeFileSync(join(opts.out, 'public.pem'), k.publicPem);
  out.write(
    `generated ${k.alg} key ${k.kid}\n  private (keep secret): ${join(opts.out, 'private.jwk.json')}\n  public JWKS for intentguard: ${join(opts.out, 'jwks.json')}\n  public PEM: ${join(opts.out, 'public.pem')}\n`,
  );
  return 0;
}

/** A private JWK file; one that is not JSON is `ERR_KEY_SOURCE` naming the file (not a parser excerpt). */
function readJwk(file: string): JWK {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as JWK;
  } catch {
    throw new IntentGuardError('ERR_KEY_SOURCE', `${file}: not a JSON Web Key (not valid JSON)`);
  }
}

/** `intentguard grant mint --intent intent.yaml --sub agent:x --ttl 10m`. */
export async function grantMintCommand(
  opts: { intent: string; sub: string; ttl: string; key: string; iss: string; aud: string; act?: string },
  out: Out = process.stdout,
): Promise<number> {
  const jwk = readJwk(opts.key);
  parseDuration(opts.ttl);
  out.write(
    `${await mintGrant({ privateJwk: jwk, iss: opts.iss, aud: opts.aud, sub: opts.sub, ttl: opts.ttl, intent: readIntentDocument(opts.intent).doc, ...(opts.act && { act: opts.act }) })}\n`,
  );
  return 0;
}

/** `intentguard grant inspect TOKEN`: decoded, then verified or the exact reason it is not. */
export async function grantInspectCommand(
  token: string,
  opts: {
    jwks?: string;
    jwksUrl?: string;
    pem?: string;
    alg?: string;
    iss?: string[];
    aud?: string;
    maxTtl: string;
    db?: string;
  },
  out: Out = process.stdout,
): Promise<number> {
  // As `grant mint` uses ./keys/private.jwk.json, `grant inspect` uses the public half beside it.
  if (!opts.jwks && !opts.jwksUrl && !opts.pem && existsSync(DEFAULT_JWKS)) {
    opts = { ...opts, jwks: DEFAULT_JWKS };
    out.write(`keys: ${DEFAULT_JWKS}\n`);
  }
  let header: unknown, payload: unknown;
  try {
    header = decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch (e) {
    out.write(`not decodable: ${(e as Error).message}\n`);
  }
  if (header) out.write(`header  ${JSON.stringify(header)}\npayload ${JSON.stringify(payload, null, 2)}\n`);
  if (!opts.jwks && !opts.jwksUrl && !opts.pem) {
    out.write('not verified: no key given (--jwks, --jwks-url or --pem)\n');
    return 1;
  }
  const store = opts.db ? openStore(opts.db) : undefined;
  try {
    const revocations = createRevocations(store);
    const p = payload as { iss?: string; aud?: string } | undefined;
    const g = await verifyGrant(token, {
      keys: await resolveKeys(keySourceFrom(opts), DEFAULT_ALGORITHMS),
      issuers: opts.iss?.length ? opts.iss : [p?.iss ?? ''],
      audience: opts.aud ?? String(p?.aud ?? ''),
      maxTtlMs: parseDuration(opts.maxTtl),
      isRevoked: (j, s, n) => revocations.isRevoked(j, s, n),
    });
    out.write(
      `verified: ${g.identity.sub}${g.identity.act ? ` acting for ${g.identity.act.sub}` : ''}, grant ${g.identity.jti}, expires ${new Date(g.expiresAt).toISOString()} (${toleranceText()}, as the proxy checks it)\n  intent: ${g.intent.purpose} (tools: ${g.intent.tools === '*' ? '*' : g.intent.tools.map((t) => t.name).join(', ')})\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof GrantError) {
      out.write(`not verified: ${e.code}: ${e.message} (${toleranceText()}, as the proxy checks it)\n`);
      return 1;
    }
    throw e;
  } finally {
    store?.close();
  }
}

/** `revoke`/`unrevoke` take a jti, or a sub (`--sub`, or any argument with a colon: `agent:x`). */
const revocationTarget = (target: string, sub?: boolean) => {
  const isSub = Boolean(sub) || target.includes(':');
  return { isSub, what: isSub ? { sub: target } : { jti: target } };
};

/** `intentguard revoke JTI|SUB`: persisted; sessions presenting it are refused (on PostgreSQL: on every instance of the fleet). */
export async function revokeCommand(
  target: string,
  opts: { db: string; sub?: boolean; reason: string },
  out: Out = process.stdout,
): Promise<number> {
  const { isSub, what } = revocationTarget(target, opts.sub);
  if (parseStoreLocation(opts.db).kind === 'postgres') {
    const { revokeInFleet } = await import('../fleet/revocations.js');
    const where = await revokeInFleet(opts.db, what, opts.reason);
    out.write(`revoked ${isSub ? 'subject' : 'grant'} ${target} in ${where} (every instance is told)\n`);
    return 0;
  }
  const store = openStore(opts.db);
  try {
    createRevocations(store).revoke(what, opts.reason);
    out.write(`revoked ${isSub ? 'subject' : 'grant'} ${target} in ${opts.db}\n`);
    return 0;
  } finally {
    store.close();
  }
}

/**
 * `intentguard task done JTI`: the grant's task is over, the grant revoked where the running intentguard
 * records (on PostgreSQL: a chained row in the fleet's table, every instance told by NOTIFY).
 */
export async function taskDone(
  jti: string,
  opts: { db: string },
  out: Out = process.stdout,
): Promise<number> {
  if (parseStoreLocation(opts.db).kind === 'postgres') {
    const { revokeInFleet } = await import('../fleet/revocations.js');
    const where = await revokeInFleet(opts.db, { jti }, 'task done');
    out.write(`task done: grant ${jti} revoked in ${where} (every instance is told)\n`);
    return 0;
  }
  return (await import('../identity/task-done.js')).taskDoneCommand(jti, opts, out);
}

/**
 * `intentguard unrevoke JTI|SUB`: lift a revocation (an operator's, or a halted session's) with a chained
 * lift row; new sessions presenting the grant are admitted again. `ERR_NOT_REVOKED` when nothing is in
 * force for that target.
 */
export async function unrevokeCommand(
  target: string,
  opts: { db: string; sub?: boolean; reason: string },
  out: Out = process.stdout,
): Promise<number> {
  const { isSub, what } = revocationTarget(target, opts.sub);
  let where = opts.db;
  if (parseStoreLocation(opts.db).kind === 'postgres') {
    const { unrevokeInFleet } = await import('../fleet/revocations.js');
    where = `${await unrevokeInFleet(opts.db, what, opts.reason)} (every instance is told)`;
  } else {
    const store = openStore(opts.db);
    try {
      liftRevocation(store, what, opts.reason);
    } finally {
      store.close();
    }
  }
  out.write(`lifted the revocation of ${isSub ? 'subject' : 'grant'} ${target} in ${where}\n`);
  return 0;
}
