import { createServer, type IncomingMessage } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import type { Direction, Identity } from '../model/events.js';
import { bearerToken } from '../identity/gate.js';
import type { GrantError } from '../identity/grant.js';
import type { Intent } from '../model/intent.js';
import { Asker } from '../carrier/asker.js';
import { BatchAnswers } from '../carrier/batches.js';
import { Lane } from '../carrier/lane.js';
import { createFrontDoor, refuseUpgrade, type FrontDoor } from '../carrier/front-door.js';
import { Valve } from '../carrier/valve.js';
import type { SessionHandle } from '../monitor/handle.js';
import type { Duplex } from 'node:stream';
import { listen } from '../lib/listen.js';
import { serveBehindDoor, tcpProbe } from '../observe/hooks.js';
import { SHUTDOWN_GRACE_MS, SHUT_DOWN_OWED, endOwing, relayFrame, relayOversize } from '../carrier/relay.js';
import { quotaExceededUpgrade } from '../carrier/session-quota.js';
import type { Runtime } from './runtime.js';

export interface WsProxyOptions {
  readonly host?: string;
  readonly port?: number;
  readonly upstream: string;
  readonly runtime: Runtime;
  /** Most connections (sessions) at once; one more is refused with 503 (default 1024). */
  readonly maxSessions?: number;
}

const tokenOf = (req: IncomingMessage): string | undefined => {
  if (req.headers.authorization !== undefined) return bearerToken(req.headers.authorization);
  return new URL(req.url ?? '/', 'http://localhost').searchParams.get('access_token') ?? undefined;
};

/**
 * `intentguard ws`: a WebSocket proxy (subprotocol `mcp`). The grant is checked during the upgrade
 * (401 otherwise); then every text frame in either direction is decided before it is passed on.
 */
export async function startWsProxy(o: WsProxyOptions): Promise<{ url: string; close(): Promise<void> }> {
  const { monitor } = o.runtime;
  const door = createFrontDoor({ listenHost: o.host ?? '127.0.0.1', ...o.runtime.options });
  o.runtime.observe.setUpstream(tcpProbe(new URL(o.upstream)));
  // Plain HTTP: /metrics, /healthz, /readyz past the door; anything else needs the upgrade.
  const server = createServer(async (req, res) => {
    if (await serveBehindDoor(door, o.runtime.observe, req, res)) return;
    res.writeHead(426).end('WebSocket upgrade required\n');
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: monitor.options.maxMessageBytes,
    handleProtocols: (p) => (p.has('mcp') ? 'mcp' : false),
  });
  /** Each carried connection's shutdown: answer what its client is owed, then close it (1001). */
  const carried = new Set<(message: string) => Promise<void>>();
  server.on('upgrade', async (req, socket, head) => {
    const admitted = await admitUpgrade(o, door, req, socket, wss.clients.size);
    if (!admitted) return;
    socket.once('close', admitted.release);
    wss.handleUpgrade(req, socket, head, (client) => {
      const session = monitor.open({
        intent: admitted.intent,
        ...(admitted.identity && { identity: admitted.identity }),
        transport: 'websocket',
      });
      void session.whenEnded().then(admitted.release);
      const shutDown = carry(o, client, session);
      carried.add(shutDown);
      client.once('close', () => carried.delete(shutDown));
    });
  });
  await listen(server, o.host ?? '127.0.0.1', o.port ?? 0);
  const { port } = server.address() as { port: number };
  return {
    url: `ws://${o.host ?? '127.0.0.1'}:${port}`,
    // As the HTTP proxy: held calls are denied and answered first, then each client is told the proxy
    // is going away (1001) and given a grace to finish the closing handshake before it is cut.
    close: async () => {
      await o.runtime.approvals?.close();
      await new Promise((resolve) => setImmediate(resolve));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      wss.close();
      await Promise.all([...carried].map((shutDown) => shutDown(SHUT_DOWN_OWED)));
      for (const c of wss.clients) c.close(1001, 'intentguard is shutting down');
      server.closeIdleConnections();
      const cut = setTimeout(() => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(cut);
    },
  };
}

/**
 * Admit an upgrade: the front door (Origin and Host before anything else: cross-site WebSocket
 * hijacking, DNS rebinding), the grant (401), the session cap (503), an intent (403), the agent's
 * quota (429). Undefined when it refused (on the raw socket).
 */
async function admitUpgrade(
  o: WsProxyOptions,
  door: FrontDoor,
  req: IncomingMessage,
  socket: Duplex,
  open: number,
): Promise<{ identity: Identity | undefined; intent: Intent; release: () => void } | undefined> {
  const { gate, defaultIntent } = o.runtime;
  const refused = door.check(req.headers, req.socket.localPort, req.headersDistinct);
  if (refused) return void refuseUpgrade(socket, refused);
  let identity: Identity | undefined;
  let intent: Intent | undefined = defaultIntent;
  if (gate) {
    try {
      const g = await gate.verify(tokenOf(req));
      identity = g.identity;
      intent = g.intent;
    } catch (e) {
      const err = e as GrantError;
      const desc = `${err.code}: ${err.message}`.replace(/["\\\r\n]/g, ' ');
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="intentguard", error="invalid_token", error_description="${desc}"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      return undefined;
    }
  }
  if (open >= (o.maxSessions ?? 1024)) {
    socket.end(
      'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nERR_TOO_MANY_SESSIONS: try again later\n',
    );
    return undefined;
  }
  if (!intent) {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return undefined;
  }
  const release = o.runtime.sessionQuota.acquire(identity);
  if (!release) return void quotaExceededUpgrade(socket, o.runtime.sessionQuota.max);
  return { identity, intent, release };
}

/**
 * Carry one session between the client's socket and a new one to the server: each direction decided
 * in order and under back-pressure (a {@link Lane} per direction; `ws` confirms each send by
 * callback, so the bytes sent and not yet written out count against the direction that sent them).
 */
function carry(
  o: WsProxyOptions,
  client: WebSocket,
  session: SessionHandle,
): (message: string) => Promise<void> {
  const max = o.runtime.monitor.options.maxMessageBytes;
  // A server's frame over the limit is withheld (its caller gets an error); one so large that
  // reading it is itself the problem (over 4x the limit) ends the connection instead of being buffered.
  const upstream = new WebSocket(o.upstream, 'mcp', { maxPayload: max * 4 });
  const lanes = {
    c2s: new Lane(new Valve(client, 'ws c2s'), () => undefined),
    s2c: new Lane(new Valve(upstream, 'ws s2c'), () => undefined),
  };
  const rawToUpstream = upstreamBacklog(o, session, client, upstream, lanes.c2s.valve, (a) =>
    toClient(JSON.stringify(a)),
  );
  const rawToClient = (text: string, valve = lanes.s2c.valve) => {
    if (client.readyState === WebSocket.OPEN) sendOn(client, text, valve);
  };
  // Answers to a batch go back as one array, whoever makes them (see BatchAnswers).
  const clientBatches = new BatchAnswers((answers) => rawToClient(JSON.stringify(answers)));
  const serverBatches = new BatchAnswers((answers) => rawToUpstream(JSON.stringify(answers)));
  const toClient = (text: string, valve?: Valve) => {
    if (!clientBatches.take(text)) rawToClient(text, valve);
  };
  const toUpstream = (text: string, valve?: Valve) => {
    if (!serverBatches.take(text)) rawToUpstream(text, valve);
  };
  const asker = new Asker(session, (m) => toClient(JSON.stringify(m)));
  session.attach({
    deliver: (dir, m) => (dir === 'c2s' ? toUpstream(JSON.stringify(m)) : toClient(JSON.stringify(m))),
    close: () => {
      client.close(1008, 'session halted by intentguard');
      upstream.close();
    },
    ask: (method, params, signal) => asker.ask(method, params, signal),
  });
  const send = {
    c2s: { sender: (t: string) => toClient(t, lanes.c2s.valve), receiver: (t: string) => toUpstream(t) },
    s2c: { sender: (t: string) => toUpstream(t, lanes.s2c.valve), receiver: (t: string) => toClient(t) },
  };
  const relay = (dir: Direction, data: WebSocket.RawData) => {
    const text = String(data);
    const bytes = Buffer.byteLength(text);
    const batches = dir === 'c2s' ? clientBatches : serverBatches;
    lanes[dir].carry(text.length, async () => {
      const r = await relayFrame(session, dir, { text, bytes }, batches, o.runtime.era);
      for (const a of r.answers) send[dir].sender(JSON.stringify(a));
      for (const f of r.forward) send[dir].receiver(f);
    });
  };
  client.on('message', (d) => {
    if (!asker.takeText(String(d))) relay('c2s', d);
  });
  upstream.on('message', (d) => relay('s2c', d));
  client.on('close', () => {
    upstream.close();
    session.close('client disconnected');
  });
  // A frame over the size limit (or a protocol error): ws closes the socket (1009/1002) and the
  // monitor records what was refused; nothing of it is forwarded.
  client.on('error', (e: Error & { code?: string }) => {
    if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
      void lanes.c2s.push(() => relayOversize(session, 'c2s', '', max + 1));
  });
  // The server went away: what it still owes the client is answered with errors first, then the
  // client's socket closes (it would otherwise wait for answers that cannot come).
  let gone = false;
  const upstreamGone = (why: string) => {
    if (gone) return;
    gone = true;
    void lanes.s2c
      .drained()
      .then(() =>
        endOwing(session, `intentguard: ${why} before answering`, `ended by upstream (${why})`, (a) =>
          toClient(JSON.stringify(a)),
        ),
      )
      .finally(() => client.close(1011, why));
  };
  upstream.on('close', () => upstreamGone('the server closed the connection'));
  upstream.on('error', () => upstreamGone('the server is unavailable'));
  // The proxy is shutting down: what the client is still owed is answered first, then both sides close.
  return async (message) => {
    gone = true;
    await endOwing(session, message, 'proxy shut down', (a) => toClient(JSON.stringify(a)));
    client.close(1001, 'intentguard is shutting down');
    upstream.close();
  };
}

/** Send on a socket, the bytes counted against `valve` until `ws` has written them out. */
function sendOn(ws: WebSocket, text: string, valve: Valve): void {
  valve.take(text.length);
  ws.send(text, () => valve.give(text.length));
}

/**
 * The sender to the server. What was decided before the upstream connection opened waits for it,
 * bounded: at most maxPending frames and 4x maxMessageBytes in all. Past that the session ends (fail
 * closed, nothing more is forwarded): requests still owed an answer get ERR_UPSTREAM_BACKLOG, the
 * client 1013.
 */
function upstreamBacklog(
  o: WsProxyOptions,
  session: SessionHandle,
  client: WebSocket,
  upstream: WebSocket,
  c2s: Valve,
  answer: (a: unknown) => void,
): (text: string, valve?: Valve) => void {
  const { maxPending, maxMessageBytes } = o.runtime.monitor.options;
  const backlog: string[] = [];
  let backlogBytes = 0;
  let overflowed = false;
  upstream.on('open', () => {
    for (const text of backlog.splice(0)) sendOn(upstream, text, c2s);
  });
  return (text, valve = c2s) => {
    if (overflowed) return;
    if (upstream.readyState === WebSocket.OPEN) return sendOn(upstream, text, valve);
    backlogBytes += Buffer.byteLength(text);
    if (backlog.length < maxPending && backlogBytes <= maxMessageBytes * 4) {
      backlog.push(text);
      return;
    }
    overflowed = true;
    backlog.length = 0;
    void endOwing(
      session,
      'intentguard: too many messages waiting for the server to accept the connection',
      'ended: upstream backlog full (the server did not accept the connection in time)',
      answer,
      'ERR_UPSTREAM_BACKLOG',
    ).finally(() => {
      client.close(1013, 'ERR_UPSTREAM_BACKLOG');
      upstream.terminate();
    });
  };
}
