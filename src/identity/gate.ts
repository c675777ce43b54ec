import type { Subscription } from 'rxjs';
import type { Monitor } from '../monitor/create.js';
import { GrantError, verifyGrant, type GrantPolicy, type VerifiedGrant } from './grant.js';
import type { Revocations } from './revocations.js';

/**
 * The token of an `Authorization` header: undefined when there is none (`ERR_GRANT_MISSING` follows).
 * The scheme is case-insensitive (RFC 9110: `bearer x` is `Bearer x`); any other scheme (`Basic …`)
 * is a presented credential of the wrong kind: `ERR_GRANT_MALFORMED`, never "missing".
 * @example bearerToken('Bearer eyJ...') // 'eyJ...'
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const text = header.trim();
  const space = text.search(/[ \t]/);
  const scheme = space < 0 ? text : text.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer')
    throw new GrantError(
      'ERR_GRANT_MALFORMED',
      `the Authorization header uses the ${scheme.slice(0, 20)} scheme; a Bearer grant is required`,
    );
  const token = space < 0 ? '' : text.slice(space + 1).trim();
  if (token === '')
    throw new GrantError('ERR_GRANT_MALFORMED', 'the Authorization header says Bearer but carries no token');
  return token;
}

export interface GrantGate {
  /** Verify a presented token (revocations included). Throws GrantError. */
  verify(token: string | undefined): Promise<VerifiedGrant>;
  readonly revocations: Revocations;
  close(): void;
}

/**
 * Tie grants to the monitor: verification with the revocation list, a halted session's grant
 * revoked (until it expires) so it opens no new session, and the same `jti` in two concurrent
 * sessions reported as a shared credential. A grant whose intent says `task: once` serves one session:
 * a second session presenting it while it is open is closed at once (`ERR_GRANT_TASK_ACTIVE`), and the
 * grant is revoked when a session of it ends (or earlier by `intentguard task done JTI`).
 */
export function createGrantGate(
  monitor: Monitor,
  policy: Omit<GrantPolicy, 'isRevoked'>,
  revocations: Revocations,
): GrantGate {
  const active = new Map<string, Set<string>>();
  const subs: Subscription[] = [
    monitor.sessionOpened$.subscribe((s) => {
      const jti = s.identity?.jti;
      if (!jti) return;
      const set = active.get(jti) ?? new Set<string>();
      set.add(s.id);
      active.set(jti, set);
      if (set.size > 1 && s.intent.task === 'once') {
        // A one-task grant in a second session was shared: that session is closed at once, and its end
        // revokes the grant (the first session is halted at its next request).
        const reason = `ERR_GRANT_TASK_ACTIVE: grant ${jti} is for one task and already in use by ${[...set].filter((id) => id !== s.id).join(', ')}`;
        monitor.report(s.id, {
          rule: 'identity/task-grant-shared',
          action: 'halt',
          severity: 'high',
          code: 'ERR_GRANT_TASK_ACTIVE',
          reason,
          evidence: { jti, sessions: [...set] },
        });
        queueMicrotask(() => monitor.session(s.id)?.close(reason));
      } else if (set.size > 1) {
        monitor.report(s.id, {
          rule: 'identity/shared-credential',
          action: 'alert',
          severity: 'high',
          code: 'ERR_GRANT_SHARED',
          reason: `grant ${jti} (sub ${s.identity?.sub}) is in use by ${set.size} concurrent sessions: ${[...set].join(', ')}`,
          evidence: { jti, sessions: [...set] },
        });
      }
    }),
    monitor.sessionEnded$.subscribe((s) => {
      const jti = s.identity?.jti;
      if (jti) {
        active.get(jti)?.delete(s.id);
        if (active.get(jti)?.size === 0) active.delete(jti);
      }
      if (s.status === 'halted' && jti) {
        revocations.revoke({ jti }, `session ${s.id} halted`, s.identity?.expiresAt);
        monitor.report(s.id, {
          rule: 'identity/grant-revoked',
          action: 'alert',
          severity: 'high',
          reason: `session halted; grant ${jti} of ${s.identity?.sub} revoked`,
        });
      } else if (s.intent.task === 'once' && jti) {
        // A grant for one task ends with its session: presented again, it is refused (ERR_GRANT_REVOKED).
        revocations.revoke(
          { jti },
          `task done: session ${s.id} ended (${s.endReason ?? s.status})`,
          s.identity?.expiresAt,
        );
        monitor.report(s.id, {
          rule: 'identity/task-grant-ended',
          action: 'alert',
          severity: 'info',
          reason: `one-task grant ${jti} of ${s.identity?.sub} revoked: its session ended`,
        });
      }
    }),
  ];
  return {
    verify: (token) =>
      verifyGrant(token, { ...policy, isRevoked: (jti, sub, now) => revocations.isRevoked(jti, sub, now) }),
    revocations,
    close: () => subs.forEach((s) => s.unsubscribe()),
  };
}
