import type { IncomingMessage, ServerResponse } from 'node:http';
import { RPC_CODES } from '../errors.js';
import { errorAnswer } from '../jsonrpc/message.js';
import type { Identity } from '../model/events.js';
import type { Intent } from '../model/intent.js';
import { FORWARDED_HEADER, hop } from './hop.js';
import type { FleetSessionKind, FleetSessions } from './sessions.js';

/** A stateful request as the router sees it before it is served. */
export interface StatefulRequest {
  readonly kind: Exclude<FleetSessionKind, 'stateless'>;
  /** The Mcp-Session-Id it names, if any. */
  readonly sid: string | undefined;
  /** The state key of the session it names when that session is served here (no query then). */
  readonly localScope: string | undefined;
  readonly identity: Identity | undefined;
  readonly intent: Intent | undefined;
  /** The POST body as it came (already read): what goes to the owner. */
  readonly body: string | undefined;
}

/**
 * Where a stateful (Mcp-Session-Id) request of a fleet is served: 'here', or 'done' when it was sent on
 * to the instance that owns its state (one hop, {@link FORWARDED_HEADER}) or refused. The state is the
 * grant's (every session of a grant in one process) or the named session's own; a session opened
 * without a grant id is this instance's (it claims its own key once named, see {@link nameStateful}).
 * A session this instance does not know, of a state it takes over, is rebuilt from the record first
 * and found in its table afterwards when it can be continued here (an HTTP upstream: its upstream
 * session id is in the record); one that cannot (its stdio server died with its owner) is not, and
 * gets the spec's 404 from the carrier: its client initializes again, under the same grant state.
 * @example if ((await routeStateful(fleet, req, res, r)) === 'done') return
 */
export async function routeStateful(
  fleet: FleetSessions,
  req: IncomingMessage,
  res: ServerResponse,
  r: StatefulRequest,
): Promise<'here' | 'done'> {
  if (r.localScope !== undefined && fleet.holds(r.localScope)) return 'here';
  let scope = r.localScope;
  try {
    if (scope === undefined && r.sid !== undefined) scope = (await fleet.find(r.kind, r.sid))?.scope;
  } catch (e) {
    refuse(res, `cannot settle which instance serves this session: ${(e as Error).message}`);
    return 'done';
  }
  // Not a session of the fleet (unknown here and there: the carrier's 404), or one of its own to open.
  scope ??= r.sid === undefined ? fleet.scopeOf(r.identity, r.intent, '') || undefined : undefined;
  if (scope === undefined || !r.intent) return 'here';
  const forwarded = typeof req.headers[FORWARDED_HEADER] === 'string';
  // Twice at most: the owner is found gone (not listening), its lease runs out, this one takes over.
  for (let round = 0; round < 2; round++) {
    let owner;
    try {
      owner = await fleet.own(scope, r.identity, r.intent);
    } catch (e) {
      refuse(res, `cannot settle which instance serves this session: ${(e as Error).message}`);
      return 'done';
    }
    if (owner === true) return 'here';
    if (forwarded || !owner.address) {
      refuse(res, `this session is served by instance ${owner.owner}`);
      return 'done';
    }
    if ((await hop(owner.address, req, res, r.body, fleet.leases.owner)) === 'done') return 'done';
    // Not there (crashed, stopped): it can no longer renew; wait out its lease, then take the state over.
    await new Promise((w) => setTimeout(w, Math.min(owner.waitMs, fleet.leases.ttlMs) + 20));
  }
  refuse(res, 'the owner of this session cannot be reached and its lease has not run out');
  return 'done';
}

/**
 * A stateful session opened here got its client-facing id: name it in the fleet (its state key, and
 * the upstream's session id a new owner continues it with), claiming its own key when it has no grant
 * state. Resolves once written; a failure is returned, not thrown (the caller ends the session: fail
 * closed; its client's next request gets 404 and it initializes again, on the owner).
 */
export async function nameStateful(
  fleet: FleetSessions,
  s: {
    readonly id: string;
    readonly kind: Exclude<FleetSessionKind, 'stateless'>;
    readonly sid: string;
    readonly upstreamSid?: string | undefined;
    readonly identity: Identity | undefined;
    readonly intent: Intent;
  },
): Promise<Error | undefined> {
  const scope = fleet.scopeOf(s.identity, s.intent, `s:${s.id}`);
  try {
    await fleet.register(
      { id: s.id, scope, kind: s.kind, handle: s.sid, upstreamSid: s.upstreamSid },
      s.identity,
      s.intent,
    );
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

function refuse(res: ServerResponse, why: string): void {
  if (res.headersSent) return void res.end();
  res
    .writeHead(503, { 'content-type': 'application/json', 'retry-after': '3' })
    .end(
      JSON.stringify(
        errorAnswer(null, RPC_CODES.REFUSED, `intentguard: ${why}`, { code: 'ERR_SESSION_LEASE' }),
      ),
    );
}
