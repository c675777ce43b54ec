import type { Identity } from '../model/events.js';
import type { Intent } from '../model/intent.js';
import type { SessionState } from '../model/session.js';

/** Most grants (or principals) whose state is kept at once; the entry expiring first is dropped beyond it. */
const MAX_SCOPES = 65_536;

/**
 * State that belongs to a grant rather than to one connection: budgets and data-flow provenance. Every
 * session presenting the same grant (`jti`) shares it, sequential or concurrent; with `statePer:
 * principal` in the intent, every session of the same principal (`iss` + `sub`). A session with no
 * grant id keeps its own. Entries are dropped once the grant (or the principal's latest grant) has
 * expired: an expired grant opens no session, so nothing can use them again.
 */
export interface GrantScopes {
  /** The value of `kind` shared by this session's grant (or principal), made on first use. */
  shared<T>(session: SessionState, kind: string, make: () => T): T;
  /**
   * Drop every value kept for `key` (a {@link scopeKey}): a fleet instance taking a grant's state over
   * from another rebuilds it from the record, never on top of what it held before the other owner.
   */
  forget(key: string): void;
  /** Live entries, for tests and bounds. */
  readonly size: number;
}

interface Entry {
  readonly value: unknown;
  expiresAt: number;
}

/** Whose state a session's state is: `g:jti`, `p:iss sub`, or undefined (its own). */
export const scopeKey = (session: SessionState): string | undefined =>
  scopeKeyOf(session.identity, session.intent);

/** {@link scopeKey} of a session not open yet: its grant's identity and intent. */
export function scopeKeyOf(
  id: Identity | undefined,
  intent: Pick<Intent, 'statePer'> | undefined,
): string | undefined {
  if (!id) return undefined;
  if (intent?.statePer === 'principal' && id.sub) return `p:${id.iss ?? ''}\u0000${id.sub}`;
  return id.jti ? `g:${id.iss ?? ''}\u0000${id.jti}` : undefined;
}

/**
 * A registry of per-grant state, one per policy instance (a monitor's sessions share it; a replay run
 * gets its own). Expired entries are swept as new sessions arrive, using the session clock.
 * @example const usage = scopes.shared(session, 'budget', () => ({ calls: 0, startedAt: session.startedAt }))
 */
export function createGrantScopes(): GrantScopes {
  const entries = new Map<string, Entry>();
  let sinceSweep = 0;
  const sweep = (now: number) => {
    for (const [k, e] of entries) if (e.expiresAt <= now) entries.delete(k);
    while (entries.size >= MAX_SCOPES) {
      let first: [string, Entry] | undefined;
      for (const kv of entries) if (!first || kv[1].expiresAt < first[1].expiresAt) first = kv;
      entries.delete(first![0]);
    }
  };
  return {
    shared<T>(session: SessionState, kind: string, make: () => T): T {
      const key = scopeKey(session);
      if (key === undefined) return make();
      const full = `${kind}\u0000${key}`;
      const expiresAt = session.identity?.expiresAt ?? Number.POSITIVE_INFINITY;
      let e = entries.get(full);
      if (!e || e.expiresAt <= session.startedAt) {
        if (++sinceSweep >= 256 || entries.size >= MAX_SCOPES) {
          sinceSweep = 0;
          sweep(session.startedAt);
        }
        e = { value: make(), expiresAt };
        entries.set(full, e);
      } else if (expiresAt > e.expiresAt) e.expiresAt = expiresAt;
      return e.value as T;
    },
    forget(key) {
      for (const full of entries.keys())
        if (full.slice(full.indexOf('\u0000') + 1) === key) entries.delete(full);
    },
    get size() {
      return entries.size;
    },
  };
}
