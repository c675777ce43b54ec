import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import { quotaExceeded, type SessionQuota } from '../../carrier/session-quota.js';
import {
  emptyBatch,
  firstRefusal,
  needsSession,
  noIntent,
  notOpen,
  otherAgent,
  refuse,
  startsSession,
  tooManySessions,
  unknownSession,
} from './refusals.js';
import { BridgeSession, type BridgeServer } from './bridge-session.js';
import { postToBridge } from './bridge-post.js';
import { claimsModern } from '../../era/classify.js';
import { statelessKey } from '../../stateless/key.js';
import type { FleetSessions } from '../../fleet/sessions.js';
import { nameStateful, routeStateful } from '../../fleet/stateful.js';

/**
 * Streamable HTTP in front of a stdio server (`intentguard http -- <server command>`): the path mcp-proxy
 * and supergateway serve. Each MCP session (an `initialize` POST) gets its own server process, so agents
 * never share a server's state. Every message is decided before it reaches the process or the client.
 * A POST's requests are answered with one JSON body when nothing else has to travel with them first,
 * and as an event stream when something does (progress, a server request, an approval prompt).
 */
export interface StdioBridgeOptions extends BridgeServer {
  /** Most sessions (processes) at once; a new one beyond it gets 503 (default 32). */
  readonly maxSessions?: number;
  /** Sessions per agent identity; one more gets 429 (ERR_SESSION_QUOTA) before any process starts. */
  readonly sessionQuota?: SessionQuota;
  /**
   * A fleet: each session served by the instance owning its grant's state (sent on there otherwise).
   * Its server process lives and dies with that instance: a session whose owner died gets 404 on
   * another instance, and its client initializes again (the grant's state rebuilt from the record).
   */
  readonly fleet?: FleetSessions;
}

export interface StdioBridge {
  /** A POST, GET or DELETE on the MCP endpoint, after authentication; `body` is the parsed POST body. */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
    intent: Intent | undefined,
    body: unknown,
    /** The body as it came (what a fleet sends on to the owner). */
    text?: string,
  ): Promise<void>;
  /** Close every session no request has touched since `cutoff` and none is waiting on. */
  sweep(cutoff: number): void;
  /** Close every session, first answering each client request still owed with `message`. */
  close(message: string): Promise<void>;
}

export function createStdioBridge(o: StdioBridgeOptions): StdioBridge {
  const sessions = new Map<string, BridgeSession>();
  /** MCP 2026-07-28 sessions (no initialize, no session id) by their grant's key ({@link statelessKey}). */
  const modern = new Map<string, BridgeSession>();

  /**
   * `POST` without a session: an `initialize` opens one (its own process), within the caps; so does the
   * first 2026-07-28 request of a grant (`key`), whose later requests join it.
   */
  const admit = (
    res: ServerResponse,
    identity: Identity | undefined,
    intent: Intent | undefined,
    body: unknown,
    key?: string,
  ) => {
    const first = firstRefusal(
      key === undefined ? startsSession(body) : undefined,
      noIntent(intent),
      tooManySessions(sessions.size, o.maxSessions ?? 32),
    );
    if (first) return void refuse(res, first);
    const release = o.sessionQuota ? o.sessionQuota.acquire(identity) : () => undefined;
    if (!release) return void quotaExceeded(res, o.sessionQuota!.max);
    const s = new BridgeSession(o, identity, intent!, (ended) => {
      release();
      sessions.delete(ended.id);
      if (key !== undefined && modern.get(key) === ended) modern.delete(key);
    });
    sessions.set(s.id, s);
    if (key !== undefined) modern.set(key, s);
    else if (o.fleet)
      void nameStateful(o.fleet, {
        id: s.handle.id,
        kind: 'bridge',
        sid: s.id,
        identity,
        intent: intent!,
      }).then((failed) => failed && s.handle.close(`it could not be named in the fleet: ${failed.message}`));
    return s;
  };

  return {
    async handle(req, res, identity, intent, body, text) {
      const sid = req.headers['mcp-session-id'];
      let s = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (o.fleet) {
        const where = await routeStateful(o.fleet, req, res, {
          kind: 'bridge',
          sid: typeof sid === 'string' ? sid : undefined,
          localScope: s && o.fleet.fence(s.handle.id)?.scope,
          identity,
          intent,
          body: text,
        });
        if (where === 'done') return;
        s = typeof sid === 'string' ? sessions.get(sid) : undefined;
      }
      const refused = firstRefusal(
        unknownSession(typeof sid !== 'string' || s !== undefined),
        s && otherAgent(s.sub, identity),
      );
      if (refused) return refuse(res, refused);
      if (s) s.lastSeen = Date.now();
      if (req.method === 'POST') {
        const header = (name: string) => {
          const v = req.headers[name];
          return typeof v === 'string' ? v : undefined;
        };
        // MCP 2026-07-28: no initialize and no session id; the grant's requests share one process.
        const key =
          !s && o.era && claimsModern(body, header('mcp-protocol-version'))
            ? // Anonymous requests share one process here, in either mode (not a server process per connection).
              statelessKey(identity, req, body, 'enforce').key
            : undefined;
        if (key !== undefined) s = modern.get(key);
        s ??= admit(res, identity, intent, body, key);
        if (!s) return;
        const closed = firstRefusal(notOpen(s.exited ? 'closed' : s.handle.status), emptyBatch(body));
        if (closed) return refuse(res, closed);
        return postToBridge(res, s, body, header);
      }
      if (!s) return refuse(res, needsSession(req.method, false)!);
      if (req.method === 'GET') return openStream(s, res);
      if (req.method === 'DELETE') {
        s.handle.close('closed by client (DELETE)');
        res.writeHead(200).end();
        return;
      }
      res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
    },
    sweep(cutoff) {
      for (const s of sessions.values())
        if (s.lastSeen < cutoff && s.exchanges.waiting === 0) s.handle.close('idle timeout');
    },
    async close(message) {
      await Promise.all([...sessions.values()].map((s) => s.shutDown(message)));
    },
  };
}

/** `GET`: the session's stream for server messages that belong to no request (one at a time). */
function openStream(s: BridgeSession, res: ServerResponse): void {
  if (s.exchanges.openStream)
    return refuse(res, {
      status: 409,
      rpc: -32600,
      message: 'intentguard: this session already has an open GET stream',
      code: 'ERR_STREAM_OPEN',
    });
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'mcp-session-id': s.id,
  });
  res.flushHeaders();
  s.exchanges.stream = res;
  res.on('close', () => {
    if (s.exchanges.stream === res) s.exchanges.stream = undefined;
  });
}
