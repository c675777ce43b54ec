import type { Subscription } from 'rxjs';
import type { Monitor } from '../monitor/create.js';
import { GrantError, verifyGrant, type GrantPolicy, type VerifiedGrant } from './grant.js';
import { verifiedGrants } from './verified.js';
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

/** Transports without a connection whose loss ends the session: their sessions count as live only in use. */
const CONNECTIONLESS = new Set(['http', 'http-stateless']);

export interface GrantGate {
  /** Verify a presented token (revocations included). Throws GrantError. */
  verify(token: string | undefined): Promise<VerifiedGrant>;
  readonly revocations: Revocations;
  close(): void;
}

/**
 * Tie grants to the monitor: verification with the revocation list, a halted session's grant
 * revoked (until it expires) so it opens no new session, and the same `jti` in two live sessions
 * reported as a shared credential. A session on a connection (stdio, WebSocket, legacy SSE, a tap) is
 * live while open; a Streamable HTTP session has no connection to lose (a client that exits without
 * `DELETE` leaves it open until the idle timeout), so it counts only while it is in use: a request of
 * it in flight when the other session opens, or a message from its client after that. Sequential runs
 * of one agent over HTTP are therefore not a shared credential; two runs at once are, at the older
 * one's next message. A grant whose intent says `task: once` serves one session:
 * a second session presenting it while it is open is closed at once (`ERR_GRANT_TASK_ACTIVE`), and the
 * grant is revoked when a session of it ends (or earlier by `intentguard task done JTI`).
 */
export function createGrantGate(
  monitor: Monitor,
  policy: Omit<GrantPolicy, 'isRevoked'>,
  revocations: Revocations,
): GrantGate {
  const active = new Map<string, Set<string>>();
  // HTTP sessions that were idle when a newer session of their grant opened: a message from their client
  // now means two sessions of one grant in use at once.
  const dormant = new Map<string, string>();
  const shared = (session: string, jti: string, sub: string | undefined, live: readonly string[]): void =>
    monitor.report(session, {
      rule: 'identity/shared-credential',
      action: 'alert',
      severity: 'high',
      code: 'ERR_GRANT_SHARED',
      reason: `grant ${jti} (sub ${sub}) is in use by ${live.length} concurrent sessions: ${live.join(', ')}`,
      evidence: { jti, sessions: [...live] },
    });
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
        const live = [s.id];
        for (const id of set) {
          if (id === s.id) continue;
          const other = monitor.session(id)?.state();
          if (other && CONNECTIONLESS.has(other.transport ?? '') && other.pending.size === 0)
            dormant.set(id, s.id);
          else live.push(id);
        }
        if (live.length > 1) shared(s.id, jti, s.identity?.sub, live);
      }
    }),
    // Only while some session is dormant: a client's message wakes it (it is in use beside the newer one).
    monitor.decisions$.subscribe((d) => {
      if (dormant.size === 0 || d.dir !== 'c2s' || !dormant.has(d.session)) return;
      dormant.delete(d.session);
      const jti = d.identity?.jti;
      const set = jti === undefined ? undefined : active.get(jti);
      if (jti === undefined || !set || set.size < 2) return;
      const live = [d.session, ...[...set].filter((id) => id !== d.session && !dormant.has(id))];
      if (live.length > 1) shared(d.session, jti, d.identity?.sub, live);
    }),
    monitor.sessionEnded$.subscribe((s) => {
      const jti = s.identity?.jti;
      dormant.delete(s.id);
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
  const full: GrantPolicy = { ...policy, isRevoked: (jti, sub, now) => revocations.isRevoked(jti, sub, now) };
  const verified = verifiedGrants(full, revocations);
  return {
    verify: async (token) => {
      const known = verified.get(token);
      if (known) return known;
      const grant = await verifyGrant(token, full);
      verified.keep(grant);
      return grant;
    },
    revocations,
    close: () => subs.forEach((s) => s.unsubscribe()),
  };
}
