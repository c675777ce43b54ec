import type { GrantPolicy, VerifiedGrant } from './grant.js';
import type { Revocations } from './revocations.js';

/** How long a verified grant is taken again without verifying its signature anew (at most until it expires). */
export const REVERIFY_MS = 60_000;
/** Most verified grants kept; the oldest goes first. */
const MAX_KEPT = 1024;

/** Verified grants, kept to be taken again on the next request that presents the same token. */
export interface VerifiedGrants {
  /** The grant `token` verified to, still valid and not revoked now; else undefined (verify it again). */
  get(token: string | undefined): VerifiedGrant | undefined;
  keep(grant: VerifiedGrant): void;
}

/**
 * A client presents its grant on every HTTP request; checking the signature again each time is most of
 * what admitting a request costs. A grant is kept under its token, the whole compact JWS as
 * presented — never under its `jti` or `sub`, so a token with another signature, header or payload is
 * verified on its own — and taken again only while it has not expired, is not revoked (both checked
 * on every request, as a full verification checks them) and was verified less than
 * {@link REVERIFY_MS} ago (so a key withdrawn from the key set stops its grants within that time). When
 * any of that fails, the token is verified in full, which refuses it with its own code.
 */
export function verifiedGrants(policy: GrantPolicy, revocations: Revocations): VerifiedGrants {
  const kept = new Map<string, { grant: VerifiedGrant; until: number }>();
  const clock = () => policy.clock?.() ?? Date.now();
  const revoked = (g: VerifiedGrant, now: number): boolean => {
    try {
      return revocations.isRevoked(g.identity.jti!, g.identity.sub, now);
    } catch {
      // Revocations that cannot be read: the full verification refuses it under the store's code.
      return true;
    }
  };
  return {
    get(token) {
      if (token === undefined) return undefined;
      const hit = kept.get(token);
      if (!hit) return undefined;
      const now = clock();
      if (now < hit.until && now < hit.grant.expiresAt && !revoked(hit.grant, now)) return hit.grant;
      kept.delete(token);
      return undefined;
    },
    keep(grant) {
      if (kept.size >= MAX_KEPT) kept.delete(kept.keys().next().value!);
      kept.set(grant.token, { grant, until: clock() + REVERIFY_MS });
    },
  };
}
