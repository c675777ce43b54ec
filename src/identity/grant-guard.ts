import { ALLOW, verdictOf, type Policy } from '../model/policy.js';
import type { Revocations } from './revocations.js';

/**
 * A grant is checked when a session opens; this keeps it checked while the session lives. A request
 * after the grant's expiry is denied (`ERR_GRANT_EXPIRED`: the agent needs a fresh grant, which means
 * a new session), and a request after its `jti` or subject was revoked — by `intentguard revoke`, or
 * because another session holding the same grant was halted — halts the session (`ERR_GRANT_REVOKED`).
 * Without it a stdio or WebSocket session, whose grant is presented once, would outlive both.
 */
export function grantGuard(
  revocations: Pick<Revocations, 'isRevoked'> & Partial<Pick<Revocations, 'tampered'>>,
): Policy {
  return {
    name: 'grant-guard',
    evaluate({ event, session }) {
      const id = session.identity;
      if (!id || event.kind !== 'request' || event.dir !== 'c2s' || event.synthetic) return ALLOW;
      if (id.jti !== undefined && revocations.isRevoked(id.jti, id.sub, event.time)) {
        return verdictOf([
          {
            rule: 'identity/revoked-in-session',
            action: 'halt',
            severity: 'high',
            code: 'ERR_GRANT_REVOKED',
            reason: revocations.tampered?.()
              ? `the revocation record was tampered with (${revocations.tampered()}); grants are refused until it verifies`
              : `grant ${id.jti} of ${id.sub} was revoked while this session was open`,
          },
        ]);
      }
      if (id.expiresAt !== undefined && event.time >= id.expiresAt) {
        return verdictOf([
          {
            rule: 'identity/grant-expired',
            action: 'deny',
            severity: 'medium',
            code: 'ERR_GRANT_EXPIRED',
            reason: `grant ${id.jti ?? ''} of ${id.sub} expired at ${new Date(id.expiresAt).toISOString()}; a fresh grant opens a new session`,
          },
        ]);
      }
      return ALLOW;
    },
  };
}
