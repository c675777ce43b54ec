import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { profileTool } from '../analyze/categories.js';
import { IntentGuardError } from '../errors.js';
import { mintGrant } from '../identity/grant.js';
import { digest } from '../lib/canonical.js';
import { parseIntent } from '../intent/parse.js';
import { SENSITIVITY_LEVELS, type Intent } from '../model/intent.js';
import type { GrantLedger, StoredGrantRequest } from '../store/grant-requests.js';
import { approverOf, type Principal } from './auth.js';

/** RFC 8693 token exchange. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** A request for a grant: who asked (a verified identity), for which intent, and what became of it. */
export interface GrantRequest {
  readonly id: string;
  readonly sub: string;
  readonly act?: string;
  readonly intent: Intent;
  /** The intent as the caller wrote it (what a minted grant carries). */
  readonly intentDoc: unknown;
  status: 'pending' | 'granted' | 'denied' | 'expired';
  /** Why the rule set decided as it did (auto-grant, or why a reviewer must look). */
  readonly why: string;
  decidedBy?: string;
  decidedAt?: number;
  /** The minted grant (kept in memory only: a bearer credential is never written to the store). */
  token?: string;
  readonly requestedAt: number;
  readonly expiresAt: number;
}

export interface GrantIssuerOptions {
  /** Where requests and their decisions are recorded (and read back when the console starts). */
  readonly ledger: GrantLedger;
  /** The private JWK grants are signed with (`--grant-key FILE`). */
  readonly privateJwk: JWK;
  readonly iss: string;
  readonly aud: string;
  /** Lifetime of a minted grant (default 10m). */
  readonly ttl?: string;
  /** How long a request waits for a reviewer (default 10 min). */
  readonly waitMs?: number;
  /** Largest call budget granted without a reviewer (default 20). */
  readonly autoMaxCalls?: number;
  readonly clock?: () => number;
}

export interface GrantIssuer {
  /** Take a request for a verified identity: decided at once by the rule set, or left pending for a reviewer. */
  request(sub: string, intentDoc: unknown, act?: string): Promise<GrantRequest>;
  get(id: string): GrantRequest | undefined;
  /** A reviewer decides (recorded and chained: who, when, what). */
  decide(id: string, approve: boolean, reviewer: Pick<Principal, 'sub' | 'via'>): Promise<GrantRequest>;
  list(): GrantRequest[];
  /**
   * The grant of a granted request: the one minted when it was decided, or — for a request granted
   * before this console started (its token was in the memory of the one before) — minted now, once.
   */
  token(r: GrantRequest): Promise<string>;
}

const MAX_REQUESTS = 1000;

/**
 * The low-risk rule set: a grant is issued at once only when every approved tool is a named,
 * read-only tool (by its name: `read_file`, `list_directory`, `search`), the intent has a call budget
 * of at most `autoMaxCalls`, a sensitivity ceiling no higher than `internal`, and asks for no
 * sensitive resources. Anything else waits for a reviewer. Returns why.
 */
function lowRisk(intent: Intent, maxCalls: number): { auto: boolean; why: string } {
  if (intent.tools === '*') return { auto: false, why: 'asks for every tool ("*")' };
  const acting = intent.tools.filter((t) => !profileTool(t.name).readOnly).map((t) => t.name);
  if (acting.length) return { auto: false, why: `tools that change or send: ${acting.join(', ')}` };
  if (intent.budget?.calls === undefined || intent.budget.calls > maxCalls)
    return { auto: false, why: `no call budget of at most ${maxCalls}` };
  const level = SENSITIVITY_LEVELS.indexOf(intent.sensitivity ?? 'internal');
  if (level > SENSITIVITY_LEVELS.indexOf('internal'))
    return { auto: false, why: `sensitivity ${intent.sensitivity} above internal` };
  if (intent.resources?.sensitive.length)
    return { auto: false, why: `sensitive resources: ${intent.resources.sensitive.join(', ')}` };
  return { auto: true, why: 'low risk: read-only tools within a small budget' };
}

/** Read a private JWK file for `--grant-key`. */
export function readPrivateJwk(file: string): JWK {
  try {
    const jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    if (!jwk.d) throw new Error('not a private key (no "d")');
    return jwk;
  } catch (e) {
    throw new IntentGuardError('ERR_KEY_SOURCE', `--grant-key ${file}: ${(e as Error).message}`);
  }
}

/** A request read back from the store, as the issuer keeps it (its status from its approval's). */
function restored(r: StoredGrantRequest): GrantRequest | undefined {
  let intentDoc: unknown;
  let intent: Intent;
  try {
    intentDoc = JSON.parse(r.intent_json);
    intent = parseIntent(intentDoc);
  } catch {
    return undefined; // written by this issuer after parsing, so only a rewritten row reads badly
  }
  const status =
    r.status === 'pending'
      ? 'pending'
      : r.status === 'approved'
        ? 'granted'
        : r.status === 'expired'
          ? 'expired'
          : 'denied';
  return {
    id: r.id,
    sub: r.sub,
    ...(r.act !== null && { act: r.act }),
    intent,
    intentDoc,
    status,
    why: r.why,
    ...(r.approver !== null && status !== 'pending' && { decidedBy: r.approver }),
    ...(r.decided_at !== null && { decidedAt: r.decided_at }),
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
  };
}

/**
 * Grant requests (the original approval, made by a person): each is recorded in the store — the
 * request itself (identity, intent, why) in `grant_requests`, chained, and in the `approvals` table as
 * `tool: "grant"` under the pseudo-session `grant:<id>` (chained like every approval) — decided by
 * {@link lowRisk} or by a reviewer, and a granted request mints a short-lived grant bound to the
 * requesting identity and its intent. The requests recorded are read back when the issuer starts, so a
 * restart shows a waiting request pending again, and a decision taken after it mints the grant.
 */
export async function createGrantIssuer(o: GrantIssuerOptions): Promise<GrantIssuer> {
  const clock = o.clock ?? Date.now;
  const waitMs = o.waitMs ?? 600_000;
  const requests = new Map<string, GrantRequest>();
  const loaded = await o.ledger.load(MAX_REQUESTS);
  for (const stored of loaded.requests) {
    const r = restored(stored);
    if (r) requests.set(r.id, r);
  }
  const mint = (r: GrantRequest) =>
    mintGrant({
      privateJwk: o.privateJwk,
      iss: o.iss,
      aud: o.aud,
      sub: r.sub,
      ttl: o.ttl ?? '10m',
      intent: r.intentDoc,
      ...(r.act && { act: r.act }),
      now: clock(),
    });
  const settle = async (r: GrantRequest, approve: boolean, by: string) => {
    r.status = approve ? 'granted' : 'denied';
    r.decidedBy = by;
    r.decidedAt = clock();
    if (approve) r.token = await mint(r);
    await o.ledger.seal(r.id, {
      status: approve ? 'approved' : 'denied',
      approver: by,
      scope: 'grant',
      decided_at: r.decidedAt,
    });
  };
  const expire = (r: GrantRequest) => {
    if (r.status === 'pending' && clock() > r.expiresAt) {
      r.status = 'expired';
      void o.ledger
        .seal(r.id, { status: 'expired', approver: 'timeout', scope: null, decided_at: clock() })
        .catch(() => undefined); // recorded at the next start, which expires it again
    }
    return r;
  };
  return {
    async request(sub, intentDoc, act) {
      let intent: Intent;
      try {
        intent = parseIntent(intentDoc);
      } catch (e) {
        throw new IntentGuardError('ERR_INTENT_INVALID', (e as Error).message);
      }
      // Bounded: decided and expired requests make room; past the bound a new request is refused.
      for (const [id, old] of requests)
        if (requests.size >= MAX_REQUESTS && expire(old).status !== 'pending') requests.delete(id);
      if (requests.size >= MAX_REQUESTS)
        throw new IntentGuardError(
          'ERR_CONSOLE_REQUEST',
          `${MAX_REQUESTS} grant requests are waiting for a reviewer; try later`,
        );
      const risk = lowRisk(intent, o.autoMaxCalls ?? 20);
      const now = clock();
      const r: GrantRequest = {
        id: `grq-${randomUUID()}`,
        sub,
        ...(act && { act }),
        intent,
        intentDoc,
        status: 'pending',
        why: risk.why,
        requestedAt: now,
        expiresAt: now + waitMs,
      };
      await o.ledger.append(
        {
          id: r.id,
          sub,
          act: act ?? null,
          intent_json: JSON.stringify(intentDoc),
          why: risk.why,
          requested_at: now,
          expires_at: r.expiresAt,
        },
        {
          id: r.id,
          session_id: `grant:${r.id}`,
          decision_id: null,
          sub,
          tool: 'grant',
          args_digest: digest(intentDoc, 64),
          intent_version: intent.version,
          reason: `grant request: ${intent.purpose}${act ? ` (through ${act})` : ''} (${risk.why})`,
          requested_at: now,
          expires_at: r.expiresAt,
        },
      );
      requests.set(r.id, r);
      if (risk.auto) await settle(r, true, 'console:auto-grant');
      return r;
    },
    get: (id) => {
      const r = requests.get(id);
      return r && expire(r);
    },
    async decide(id, approve, reviewer) {
      const r = requests.get(id);
      if (!r) throw new IntentGuardError('ERR_APPROVAL_NOT_FOUND', `no grant request ${id}`);
      expire(r);
      if (r.status !== 'pending')
        throw new IntentGuardError('ERR_APPROVAL_DONE', `grant request ${id} is already ${r.status}`);
      if (r.sub === reviewer.sub || r.act === reviewer.sub)
        throw new IntentGuardError('ERR_CONSOLE_SELF_APPROVAL', 'you cannot decide your own grant request');
      await settle(r, approve, approverOf(reviewer));
      return r;
    },
    list: () => [...requests.values()].map(expire).reverse(),
    async token(r) {
      if (r.status !== 'granted')
        throw new IntentGuardError('ERR_APPROVAL_DONE', `grant request ${r.id} is ${r.status}`);
      return (r.token ??= await mint(r));
    },
  };
}
