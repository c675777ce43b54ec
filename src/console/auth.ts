import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { IntentGuardError } from '../errors.js';

/** Console roles, weakest first: a viewer reads, an approver also decides approvals and revokes, an admin does everything. */
const ROLES = ['viewer', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is logged in to the console. `sub` is what approvals record and what self-approval is checked against. */
export interface Principal {
  readonly sub: string;
  readonly role: Role;
  readonly via: 'token' | 'jwt';
}

/** The admin token's identity: it already names the console. */
const TOKEN_SUB = 'console:admin-token';

/**
 * Who a console decision records as its approver: `console:` and the login's identity — once (the
 * admin token's identity already carries it; a JWT's `sub` is recorded as it was signed, after the prefix).
 */
export const approverOf = (p: Pick<Principal, 'sub' | 'via'>): string =>
  p.via === 'token' ? p.sub : `console:${p.sub}`;

export interface ConsoleAuthOptions {
  /** The admin bearer token (`--token`, `INTENTGUARD_CONSOLE_TOKEN`). */
  readonly token?: string;
  /** Identity JWTs are verified against this JWKS: an https/http URL or a file (`--console-jwks`). */
  readonly jwks?: string;
  readonly issuer?: string;
  readonly audience?: string;
  readonly clock?: () => number;
  /** How long a login lasts (default 8 h). */
  readonly loginTtlMs?: number;
}

/** A login: the principal, and the CSRF token every state change from its pages must carry. */
export interface Login {
  readonly id: string;
  readonly principal: Principal;
  readonly csrf: string;
  readonly expiresAt: number;
}

export interface ConsoleAuth {
  /** Verify a presented credential (admin token or identity JWT). Throws `ERR_CONSOLE_AUTH`. */
  verify(credential: string): Promise<Principal>;
  /** Start a login for a verified principal. */
  login(principal: Principal): Login;
  /** The live login a session cookie names, if any. */
  session(id: string | undefined): Login | undefined;
  logout(id: string): void;
}

const MAX_LOGINS = 10_000;
/** Signature algorithms accepted on identity JWTs (asymmetric only: never `none`, never HMAC). */
const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** The strongest known role a JWT claims (`role`: a string, or `roles`: a list); none is viewer. */
function roleOf(claims: Record<string, unknown>): Role {
  const claimed = [claims.role, ...(Array.isArray(claims.roles) ? claims.roles : [])];
  let best = 0;
  for (const r of claimed) {
    const i = ROLES.indexOf(r as Role);
    if (i > best) best = i;
  }
  return ROLES[best]!;
}

function keySet(source: string): JWTVerifyGetKey {
  if (/^https?:\/\//.test(source)) return createRemoteJWKSet(new URL(source));
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(source, 'utf8'));
  } catch (e) {
    throw new IntentGuardError('ERR_KEY_SOURCE', `--console-jwks ${source}: ${(e as Error).message}`);
  }
  return createLocalJWKSet(parsed as Parameters<typeof createLocalJWKSet>[0]);
}

/**
 * Console logins: the admin token, or an OIDC provider's identity JWT checked against a JWKS (role
 * from its `role`/`roles` claim, viewer when it claims none). Logins live in memory, bounded, each
 * with its own random CSRF token.
 * @example const auth = createConsoleAuth({ token: process.env.INTENTGUARD_CONSOLE_TOKEN })
 */
export function createConsoleAuth(o: ConsoleAuthOptions): ConsoleAuth {
  const clock = o.clock ?? Date.now;
  const ttl = o.loginTtlMs ?? 8 * 3600_000;
  const keys = o.jwks ? keySet(o.jwks) : undefined;
  const logins = new Map<string, Login>();
  const refuse = (why: string) => new IntentGuardError('ERR_CONSOLE_AUTH', `console login refused: ${why}`);
  return {
    async verify(credential) {
      const c = credential.trim();
      if (!c) throw refuse('no credential');
      if (o.token && sameSecret(c, o.token)) return { sub: TOKEN_SUB, role: 'admin', via: 'token' };
      if (!keys || c.split('.').length !== 3) throw refuse('not the admin token, and not a JWT');
      try {
        const { payload } = await jwtVerify(c, keys, {
          algorithms: ALGORITHMS,
          currentDate: new Date(clock()),
          ...(o.issuer && { issuer: o.issuer }),
          ...(o.audience && { audience: o.audience }),
        });
        if (typeof payload.sub !== 'string' || !payload.sub) throw new Error('the JWT has no sub');
        return { sub: payload.sub, role: roleOf(payload), via: 'jwt' };
      } catch (e) {
        throw refuse((e as Error).message);
      }
    },
    login(principal) {
      const now = clock();
      for (const [id, l] of logins) if (l.expiresAt <= now || logins.size >= MAX_LOGINS) logins.delete(id);
      const login: Login = {
        id: randomBytes(24).toString('base64url'),
        principal,
        csrf: randomBytes(24).toString('base64url'),
        expiresAt: now + ttl,
      };
      logins.set(login.id, login);
      return login;
    },
    session(id) {
      if (!id) return undefined;
      const l = logins.get(id);
      if (!l) return undefined;
      if (l.expiresAt <= clock()) {
        logins.delete(id);
        return undefined;
      }
      return l;
    },
    logout(id) {
      logins.delete(id);
    },
  };
}

/** Does this login's CSRF token match the one presented (constant time)? */
export const csrfMatches = (login: Login, presented: unknown): boolean =>
  typeof presented === 'string' && sameSecret(presented, login.csrf);

/** Is `role` at least `needed`? */
export const atLeast = (role: Role, needed: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(needed);
