import type { IncomingMessage, ServerResponse } from 'node:http';
import { nameStateful, routeStateful } from '../../fleet/stateful.js';
import type { FleetSessions } from '../../fleet/sessions.js';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import { readJsonBody, type JsonBody } from './body.js';
import type { HttpCarrier } from './context.js';
import { refuse } from './refusals.js';

/**
 * Make a Streamable HTTP carrier (to an HTTP upstream) a member of a fleet: each session is named in
 * the fleet once upstream gave its id (whose state it is, and the upstream session id a new owner
 * continues it with), and a session of a state taken over from another instance is carried on here.
 */
export function joinFleet(c: HttpCarrier, fleet: FleetSessions): void {
  c.sessions.onNamed = (s) => {
    const { identity, intent } = s.handle.state();
    void nameStateful(fleet, {
      id: s.handle.id,
      kind: 'http',
      sid: s.sid!,
      upstreamSid: s.upstreamSid,
      identity,
      intent,
    }).then((failed) => {
      // Not named, or its state is served elsewhere now: it ends here (fail closed); its client's next
      // request gets 404 and it initializes again, on the owner.
      if (failed) s.handle.close(`it could not be named in the fleet: ${failed.message}`);
    });
  };
  fleet.adopt('http', (row, handle) => {
    if (row.handle === undefined || c.sessions.get(row.handle)) return false;
    c.sessions.continueSession(handle, row.handle, row.upstreamSid);
    return true;
  });
}

/**
 * A fleet's stateful request: served here ('here', with its POST body read when it is one), or sent on
 * to the instance that owns its state, or refused (undefined: answered).
 */
export async function fleetHere(
  c: HttpCarrier,
  fleet: FleetSessions,
  req: IncomingMessage,
  res: ServerResponse,
  identity: Identity | undefined,
  intent: Intent | undefined,
): Promise<{ read?: JsonBody } | undefined> {
  const sid = req.headers['mcp-session-id'];
  const named = typeof sid === 'string' ? sid : undefined;
  const local = named === undefined ? undefined : c.sessions.get(named);
  const read = req.method === 'POST' ? await readJsonBody(req, c.maxBody) : undefined;
  if (read?.refusal) {
    refuse(res, read.refusal);
    return undefined;
  }
  const where = await routeStateful(fleet, req, res, {
    kind: 'http',
    sid: named,
    localScope: local && fleet.fence(local.handle.id)?.scope,
    identity,
    intent,
    body: read?.text,
  });
  return where === 'here' ? { ...(read && { read }) } : undefined;
}
