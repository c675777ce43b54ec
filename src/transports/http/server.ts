import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createStatelessHttp } from '../../stateless/http.js';
import type { Identity } from '../../model/events.js';
import { bearerToken } from '../../identity/gate.js';
import type { GrantError } from '../../identity/grant.js';
import type { Intent } from '../../model/intent.js';
import { printable } from '../../lib/printable.js';
import { corsFor, createFrontDoor, refuseRequest, type FrontDoor } from '../../carrier/front-door.js';
import { createStdioBridge, type StdioBridge } from './stdio-bridge.js';
import { spawnedProbe, tcpProbe } from '../../observe/hooks.js';
import { listen } from '../../lib/listen.js';
import { createLegacySse, type LegacySse } from './legacy-sse.js';
import type { Runtime } from '../runtime.js';
import { readJsonBody, type JsonBody } from './body.js';
import { fleetHere, joinFleet } from './fleet-route.js';
import type { HttpCarrier } from './context.js';
import { handleDelete } from './delete.js';
import { handleGet } from './get.js';
import { handlePost } from './post.js';
import { firstRefusal, noIntent, otherAgent, quoted, refuse, sendJson, unknownSession } from './refusals.js';
import { SessionTable } from './sessions.js';
import { createUpstream } from './upstream.js';
import { httpPool } from '../../lib/http-pool.js';
import { SHUTDOWN_GRACE_MS, SHUT_DOWN_OWED } from '../../carrier/relay.js';
import { distinctHeaders } from './distinct.js';

/** The headers the front door checks for a second occurrence. */
const DOOR_HEADERS = ['host', 'origin'];

export interface HttpProxyOptions {
  readonly host?: string;
  readonly port?: number;
  /** The MCP endpoint path clients use (default `/mcp`; `/sse` for a legacy SSE upstream). */
  readonly path?: string;
  /** The upstream MCP server's URL; or give `server` instead, to front a stdio server. */
  readonly upstream?: string;
  /**
   * A stdio server to front instead of an upstream URL (`intentguard http -- <command>`): each MCP
   * session gets its own process.
   */
  readonly server?: {
    readonly command: string;
    readonly args: readonly string[];
    readonly env?: NodeJS.ProcessEnv;
  };
  /**
   * `streamable` (Streamable HTTP) or `sse` (the legacy HTTP+SSE transport of 2024-11-05: clients GET
   * the SSE stream at `path` and POST to `messagesPath`). Default: `sse` when the upstream URL's path
   * ends in `/sse`, else `streamable`.
   */
  readonly upstreamTransport?: 'streamable' | 'sse';
  /** Where legacy SSE clients POST their messages (default `/messages`). */
  readonly messagesPath?: string;
  readonly runtime: Runtime;
  /** intentguard's public resource identifier (RFC 9728 `resource`); defaults to the listen URL + path. */
  readonly resource?: string;
  /** Headers sent upstream (upstream credentials); the client's own Authorization is never forwarded. */
  readonly upstreamHeaders?: Readonly<Record<string, string>>;
  readonly maxBodyBytes?: number;
  /** A client must deliver its whole request within this (slowloris guard). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Answer a held call that needs a wider grant with HTTP 403 insufficient_scope (default when grants are on). */
  readonly stepUp403?: boolean;
  /** Close sessions no request has touched for this long (clients that vanish without DELETE). Default 30 min. */
  readonly idleTimeoutMs?: number;
  /**
   * Most sessions open at once; a new one beyond it gets 503 (ERR_TOO_MANY_SESSIONS). Default 1024, or
   * 32 in front of a stdio server, where each session is a process.
   */
  readonly maxSessions?: number;
}

export interface HttpProxy {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** What one proxy is made of: the path it serves and the carrier behind it (exactly one of the three). */
interface Parts {
  readonly path: string;
  readonly messagesPath: string;
  /** The size limit of a client's POST body. */
  readonly maxBody: number;
  readonly door: FrontDoor;
  /** A stdio server behind Streamable HTTP (`intentguard http -- <command>`). */
  readonly bridge?: StdioBridge;
  /** A legacy HTTP+SSE upstream. */
  readonly legacy?: LegacySse;
  /** A Streamable HTTP upstream. */
  readonly carrier?: HttpCarrier;
  /** `path` as a request URL (read only). */
  readonly endpoint: URL;
  /** RFC 9728 protected-resource identifier and metadata URL (known once listening). */
  readonly auth: { resource: string; metadataUrl: string };
}

/** Build the carrier the options ask for: a stdio bridge, a legacy SSE relay or a Streamable HTTP one. */
function build(o: HttpProxyOptions): Parts {
  const parts = carrierOf(o);
  return { ...parts, endpoint: new URL(parts.path, 'http://localhost') };
}

/** The carrier the options ask for, and the path it serves. */
function carrierOf(o: HttpProxyOptions): Omit<Parts, 'endpoint'> {
  const { monitor, sessionQuota } = o.runtime;
  if ((o.upstream === undefined) === (o.server === undefined))
    throw new Error('give exactly one of upstream (a URL) and server (a stdio command)');
  const door = createFrontDoor({ listenHost: o.host ?? '127.0.0.1', ...o.runtime.options });
  const upstreamUrl = new URL(o.upstream ?? 'http://stdio.invalid/');
  const messagesPath = o.messagesPath ?? '/messages';
  const maxBody = o.maxBodyBytes ?? monitor.options.maxMessageBytes;
  const auth = { resource: o.resource ?? '', metadataUrl: '' };
  o.runtime.observe.setUpstream(o.server ? spawnedProbe(o.server.command) : tcpProbe(upstreamUrl));
  if (o.server) {
    const log =
      o.runtime.options.log ?? ((line) => process.stderr.write(`intentguard: ${printable(line)}\n`));
    const maxSessions = o.maxSessions ?? 32;
    const bridge = createStdioBridge({
      monitor,
      ...o.server,
      maxSessions,
      sessionQuota,
      log,
      era: o.runtime.era,
      ...(o.runtime.fleetSessions && { fleet: o.runtime.fleetSessions }),
    });
    return { path: o.path ?? '/mcp', messagesPath, maxBody, door, bridge, auth };
  }
  const headers = o.upstreamHeaders && { upstreamHeaders: o.upstreamHeaders };
  if ((o.upstreamTransport ?? (upstreamUrl.pathname.endsWith('/sse') ? 'sse' : 'streamable')) === 'sse') {
    const maxSessions = o.maxSessions ?? 1024;
    const legacy = createLegacySse({
      monitor,
      upstream: upstreamUrl,
      messagesPath,
      maxSessions,
      sessionQuota,
      observe: o.runtime.observe,
      era: o.runtime.era,
      ...headers,
    });
    return { path: o.path ?? '/sse', messagesPath, maxBody, door, legacy, auth };
  }
  // One pool of kept-alive connections upstream, for both eras' requests.
  const pool = httpPool(upstreamUrl);
  const upstream = createUpstream(pool, o.upstreamHeaders, maxBody);
  const carrier: HttpCarrier = {
    runtime: o.runtime,
    upstream,
    sessions: new SessionTable(monitor, upstream, o.runtime.era),
    maxBody,
    maxSessions: o.maxSessions ?? 1024,
    stepUp403: o.stepUp403 ?? Boolean(o.runtime.gate),
    stateless: createStatelessHttp({
      monitor,
      era: o.runtime.era,
      upstream: upstreamUrl,
      pool,
      maxBodyBytes: maxBody,
      ...headers,
      ...(o.runtime.fleetSessions && { fleet: o.runtime.fleetSessions }),
    }),
    metadataUrl: () => auth.metadataUrl,
  };
  if (o.runtime.fleetSessions) joinFleet(carrier, o.runtime.fleetSessions);
  return { path: o.path ?? '/mcp', messagesPath, maxBody, door, carrier, auth };
}

/**
 * `intentguard http`: a Streamable HTTP reverse proxy in front of an MCP server. intentguard is its
 * own resource server: it verifies the client's grant (401 with `WWW-Authenticate: Bearer` and RFC 9728
 * metadata otherwise), never forwards the client's token upstream, taps every JSON-RPC message of
 * JSON and SSE bodies (each SSE event as it streams), and applies decisions before anything is delivered.
 */
export async function startHttpProxy(o: HttpProxyOptions): Promise<HttpProxy> {
  const p = build(o);
  const requestTimeout = o.requestTimeoutMs ?? 30_000;
  // Node checks request deadlines every connectionsCheckingInterval (30 s by default): check often
  // enough that a slow client is cut off near its deadline, not up to 30 s after it.
  const server = createServer(
    { connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(requestTimeout / 4))) },
    (req, res) => void route(o, p, req, res),
  );
  const idle = o.idleTimeoutMs ?? 30 * 60_000;
  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - idle;
      p.carrier?.sessions.sweep(cutoff);
      p.bridge?.sweep(cutoff);
    },
    Math.min(idle, 60_000),
  );
  sweeper.unref();
  server.requestTimeout = requestTimeout;
  server.headersTimeout = Math.min(server.requestTimeout, 10_000);
  const shut = async () => {
    clearInterval(sweeper);
    await Promise.all([
      p.carrier?.sessions.closeAll(SHUT_DOWN_OWED, 'proxy shut down'),
      p.legacy?.close(SHUT_DOWN_OWED),
      p.bridge?.close(SHUT_DOWN_OWED),
    ]);
    await p.carrier?.upstream.close();
  };
  try {
    await listen(server, o.host ?? '127.0.0.1', o.port ?? 0);
  } catch (e) {
    await shut();
    throw e;
  }
  const addr = server.address() as { port: number };
  const base = `http://${o.host ?? '127.0.0.1'}:${addr.port}`;
  p.auth.resource ||= `${base}${p.path}`;
  p.auth.metadataUrl = `${base}/.well-known/oauth-protected-resource${p.path}`;
  // A fleet: where the other instances send requests of the sessions this one owns.
  const leases = o.runtime.fleetSessions?.leases;
  if (leases && !leases.address) leases.address = `${base}${p.path}`;
  return {
    url: `${base}${p.path}`,
    server,
    // Shutting down answers what is owed before the connections go: no new connection is taken, held
    // calls are denied (their answers written on their own requests), the sessions are closed (what
    // upstream still owes answered as closed), idle connections end at once and busy ones get a grace.
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await o.runtime.approvals?.close();
      await new Promise((resolve) => setImmediate(resolve));
      await shut();
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(cut);
    },
  };
}

/** One HTTP request: the front door, then the paths answered here, then the grant, then the carrier. */
async function route(
  o: HttpProxyOptions,
  p: Parts,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    // The endpoint itself, as clients send it on every request, is parsed once (build).
    const url = req.url === p.path ? p.endpoint : new URL(req.url ?? '/', 'http://localhost');
    // Both answer synchronously on the common path (the endpoint itself, no grant configured): no
    // promise and no microtask hop there.
    const here = answeredHere(o, p, req, res, url);
    if (here === true || (here !== false && (await here))) return;
    // Authentication first: nothing is forwarded for a request without a valid grant.
    const granted = admit(o.runtime, p, req, res);
    const admitted = granted instanceof Promise ? await granted : granted;
    if (!admitted) return;
    const { identity, intent } = admitted;
    if (p.bridge) {
      const read = req.method === 'POST' ? await readJsonBody(req, p.maxBody) : undefined;
      if (read?.refusal) return refuse(res, read.refusal);
      await p.bridge.handle(req, res, identity, intent, read?.body, read?.text);
    } else if (p.legacy) await legacyRoute(p, p.legacy, req, res, url, identity, intent);
    else await streamable(p.carrier!, p, req, res, identity, intent);
  } catch (e) {
    refuse(res, {
      status: 502,
      rpc: -32603,
      message: `intentguard: ${(e as Error).message}`,
      code: 'ERR_UPSTREAM',
    });
  }
}

/**
 * Everything answered before a grant is looked at: the front door (Origin and Host first: DNS
 * rebinding, cross-site requests), CORS for an allowed browser origin, /metrics and health, the RFC
 * 9728 metadata, and a 404 for a path that is no MCP endpoint. True when it answered.
 */
function answeredHere(
  o: HttpProxyOptions,
  p: Parts,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): boolean | Promise<boolean> {
  // The door reads only whether Host or Origin came twice: those two, not every header, are collected.
  const refused = p.door.check(
    req.headers,
    req.socket.localPort,
    distinctHeaders(req.rawHeaders, DOOR_HEADERS),
  );
  if (refused) {
    req.resume();
    refuseRequest(res, refused);
    return true;
  }
  if (corsFor(req.headers, req.method, res)) return true;
  return url.pathname === p.path ? metadata(o, p, res, url) : offEndpoint(o, p, req, res, url);
}

/** A path other than the endpoint: /metrics, /healthz, /readyz, the metadata, legacy messages, or 404. */
async function offEndpoint(
  o: HttpProxyOptions,
  p: Parts,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  // /metrics, /healthz, /readyz: answered here (past the door), never forwarded upstream.
  if (await o.runtime.observe.serve(req, res, url.pathname)) return true;
  if (metadata(o, p, res, url)) return true;
  if (p.legacy && url.pathname === p.messagesPath) return false;
  refuse(res, {
    status: 404,
    rpc: -32601,
    message: `intentguard: no MCP endpoint at ${url.pathname} (use ${p.path})`,
    code: 'ERR_NOT_FOUND',
  });
  return true;
}

/** The RFC 9728 protected-resource metadata, answered here: true when `url` asks for it. */
function metadata(o: HttpProxyOptions, p: Parts, res: ServerResponse, url: URL): boolean {
  if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
    sendJson(res, 200, {
      resource: p.auth.resource,
      authorization_servers: [...(o.runtime.options.auth?.issuers ?? [])],
      bearer_methods_supported: ['header'],
      resource_name: 'intentguard MCP gateway',
    });
    return true;
  }
  return false;
}

/**
 * The grant of this request (when grants are configured): its identity and intent, or a 401 with a
 * `WWW-Authenticate: Bearer` challenge naming the RFC 9728 metadata. Undefined when it answered.
 */
function admit(
  runtime: Runtime,
  p: Parts,
  req: IncomingMessage,
  res: ServerResponse,
): Admitted | undefined | Promise<Admitted | undefined> {
  if (!runtime.gate) return { identity: undefined, intent: runtime.defaultIntent };
  return verified(runtime.gate, p, req, res);
}

/** Who a request is: its grant's identity and intent. */
interface Admitted {
  readonly identity: Identity | undefined;
  readonly intent: Intent | undefined;
}

/** {@link admit} with grants configured: the grant verified, or the 401 sent. */
async function verified(
  gate: NonNullable<Runtime['gate']>,
  p: Parts,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<Admitted | undefined> {
  try {
    const g = await gate.verify(bearerToken(req.headers.authorization));
    return { identity: g.identity, intent: g.intent };
  } catch (e) {
    req.resume();
    // Only an absent Authorization header is "missing"; whatever was presented is refused with its own code.
    const err = (e as GrantError).code === 'ERR_GRANT_MISSING' ? undefined : (e as GrantError);
    const metadata = `resource_metadata=${quoted(p.auth.metadataUrl)}`;
    refuse(res, {
      status: 401,
      rpc: -32001,
      message: `intentguard: ${err ? `${err.code}: ${err.message}` : 'authentication required'}`,
      code: err ? (err.code ?? 'ERR_GRANT_MALFORMED') : 'ERR_GRANT_MISSING',
      headers: {
        'www-authenticate': err
          ? `Bearer realm="intentguard", error="invalid_token", error_description=${quoted(`${err.code}: ${err.message}`)}, ${metadata}`
          : `Bearer realm="intentguard", ${metadata}`,
      },
    });
    return undefined;
  }
}

/** Legacy HTTP+SSE: `GET <path>` opens the stream (a session), `POST <messages path>` carries messages. */
async function legacyRoute(
  p: Parts,
  legacy: LegacySse,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  identity: Identity | undefined,
  intent: Intent | undefined,
): Promise<void> {
  if (req.method === 'GET' && url.pathname === p.path) {
    if (!intent) return refuse(res, noIntent(intent)!);
    return legacy.stream(req, res, identity, intent);
  }
  if (req.method === 'POST' && url.pathname === p.messagesPath) {
    const read = await readJsonBody(req, p.maxBody);
    if (read.refusal) return refuse(res, read.refusal);
    return legacy.post(req, res, url, identity, read.body);
  }
  req.resume();
  res.writeHead(405, { allow: url.pathname === p.path ? 'GET' : 'POST' }).end();
}

/**
 * Streamable HTTP to an HTTP upstream: the session the Mcp-Session-Id names must exist and belong to
 * this agent; then one handler per method (POST, GET, DELETE).
 */
async function streamable(
  c: HttpCarrier,
  p: Parts,
  req: IncomingMessage,
  res: ServerResponse,
  identity: Identity | undefined,
  intent: Intent | undefined,
): Promise<void> {
  // A fleet: served here only by the owner of the session's state; else sent on to it, once.
  const fleet = c.runtime.fleetSessions;
  const here: { read?: JsonBody } | undefined = fleet
    ? await fleetHere(c, fleet, req, res, identity, intent)
    : {};
  if (!here) return;
  const sid = req.headers['mcp-session-id'];
  const s = typeof sid === 'string' ? c.sessions.get(sid) : undefined;
  if (s) s.lastSeen = Date.now();
  // The challenge is written only for a request it answers (not on every request of a session).
  const challenge = () =>
    `Bearer realm="intentguard", error="invalid_token", error_description="session bound to another subject", resource_metadata=${quoted(p.auth.metadataUrl)}`;
  const refused = firstRefusal(
    unknownSession(typeof sid !== 'string' || s !== undefined),
    s && identity && s.sub !== identity.sub ? otherAgent(s.sub, identity, challenge()) : undefined,
  );
  if (refused) {
    req.resume();
    return refuse(res, refused);
  }
  if (req.method === 'POST') return handlePost(c, req, res, s, identity, intent, here.read);
  if (req.method === 'GET') return handleGet(c, req, res, s);
  if (req.method === 'DELETE') return handleDelete(c, req, res, s);
  res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
}
