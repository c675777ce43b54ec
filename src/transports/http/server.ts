import { randomUUID } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser } from 'eventsource-parser';
import { RPC_CODES } from '../../errors.js';
import { isModernRequest } from '../../era/classify.js';
import { createStatelessHttp } from '../../stateless/http.js';
import { observeThrough } from '../../mrtr/tap-hook.js';
import type { Identity } from '../../model/events.js';
import { bearerToken } from '../../identity/gate.js';
import type { GrantError } from '../../identity/grant.js';
import type { Intent } from '../../model/intent.js';
import { printable } from '../../lib/printable.js';
import type { SessionHandle } from '../../monitor/handle.js';
import { pendingKey } from '../../monitor/state.js';
import type { Outcome } from '../../model/decision.js';
import { corsFor, createFrontDoor, refuseRequest } from '../../carrier/front-door.js';
import { createStdioBridge } from './stdio-bridge.js';
import { hintTraceparent, spawnedProbe, tcpProbe, upstreamTraceHeaders } from '../../observe/hooks.js';
import { jsonContentTypeProblem } from './media-type.js';
import { listen } from '../../lib/listen.js';
import { quotaExceeded } from '../../carrier/session-quota.js';
import { createLegacySse } from './legacy-sse.js';
import {
  SSE_EVENT_SLACK,
  answerUnreached,
  invalidAnswer,
  sendJson,
  startsSession,
  tooManySessions,
} from '../../carrier/relay.js';
import type { Runtime } from '../runtime.js';
import { Asker } from '../../carrier/asker.js';
import { OrderedQueue } from '../../carrier/queue.js';
import { errorAnswer, isRequest } from '../../jsonrpc/message.js';

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

interface ProxySession {
  readonly handle: SessionHandle;
  lastSeen: number;
  readonly sub: string | undefined;
  /** The Mcp-Session-Id the client uses: upstream's, or intentguard's own for a stateless upstream. */
  sid?: string;
  /** The Mcp-Session-Id upstream gave, sent on every upstream request (none for a stateless upstream). */
  upstreamSid?: string;
  /** HTTP exchanges waiting for the answer to a request id (a halt answers them directly). */
  readonly waiters: Map<string, (answer: unknown) => void>;
  /** The open GET stream, for messages that belong to no request. */
  stream?: ServerResponse;
  readonly upstreamRequests: Set<{ destroy(): void }>;
  /** The POST whose requests are being decided, when its client takes SSE: approval prompts ride it. */
  promptOn?: ServerResponse;
  /** intentguard's own prompts to the client, waiting for their answers (by our request id). */
  readonly asker: Asker;
}

const NO_BODY = Symbol('no body');
const MCP_HEADERS = ['mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'accept'];

const quote = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ')}"`;
const idKey = (id: unknown) => `${typeof id}:${String(id)}`;

/**
 * Read a body of at most `max` bytes. Beyond it: 'too-large', after reading the rest (a client's
 * request, to answer it properly) or at once, dropping the connection (`stopEarly`: an upstream's answer).
 */
function readBody(req: IncomingMessage, max: number, stopEarly = false): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (!over) {
        over = true;
        chunks.length = 0;
        if (stopEarly) {
          req.destroy();
          resolve('too-large');
        }
      }
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', (e) => (over ? resolve('too-large') : reject(e)));
  });
}

/**
 * An upstream answer over the size limit was dropped: the monitor sees it as an oversized answer to
 * each request, and each request gets "result withheld" in its place.
 */
async function withheld(
  s: { handle: SessionHandle },
  requests: readonly { id: string | number }[],
  max: number,
): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (const r of requests) {
    const out = await s.handle.observe('s2c', { jsonrpc: '2.0', id: r.id }, max + 1);
    if (out.forward !== undefined) answers.push(out.forward);
  }
  return answers;
}

const sseEvent = (m: unknown) => `event: message\ndata: ${typeof m === 'string' ? m : JSON.stringify(m)}\n\n`;

/** Turn a POST's response into an event stream (once). */
function openSse(res: ServerResponse, s: { sid?: string }): void {
  if (res.headersSent) return;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    ...(s.sid && { 'mcp-session-id': s.sid }),
  });
}

/**
 * `intentguard http`: a Streamable HTTP reverse proxy in front of an MCP server. intentguard is its
 * own resource server: it verifies the client's grant (401 with `WWW-Authenticate: Bearer` and RFC 9728
 * metadata otherwise), never forwards the client's token upstream, taps every JSON-RPC message of
 * JSON and SSE bodies (each SSE event as it streams), and applies decisions before anything is delivered.
 */
export async function startHttpProxy(o: HttpProxyOptions): Promise<HttpProxy> {
  const { monitor, gate, defaultIntent, sessionQuota } = o.runtime;
  if ((o.upstream === undefined) === (o.server === undefined))
    throw new Error('give exactly one of upstream (a URL) and server (a stdio command)');
  const door = createFrontDoor({ listenHost: o.host ?? '127.0.0.1', ...o.runtime.options });
  const upstream = new URL(o.upstream ?? 'http://stdio.invalid/');
  const maxBody = o.maxBodyBytes ?? monitor.options.maxMessageBytes;
  const messagesPath = o.messagesPath ?? '/messages';
  const maxSessions = o.maxSessions ?? (o.server ? 32 : 1024);
  const bridge = o.server
    ? createStdioBridge({
        monitor,
        ...o.server,
        maxSessions,
        sessionQuota,
        log: o.runtime.options.log ?? ((line) => process.stderr.write(`intentguard: ${printable(line)}\n`)),
      })
    : undefined;
  const legacy =
    !bridge && (o.upstreamTransport ?? (upstream.pathname.endsWith('/sse') ? 'sse' : 'streamable')) === 'sse'
      ? createLegacySse({
          monitor,
          upstream,
          messagesPath,
          maxSessions: o.maxSessions ?? 1024,
          sessionQuota,
          ...(o.upstreamHeaders && { upstreamHeaders: o.upstreamHeaders }),
        })
      : undefined;
  const path = o.path ?? (legacy ? '/sse' : '/mcp');
  const stateless =
    bridge || legacy
      ? undefined
      : createStatelessHttp({
          monitor,
          era: o.runtime.era,
          upstream,
          maxBodyBytes: maxBody,
          ...(o.upstreamHeaders && { upstreamHeaders: o.upstreamHeaders }),
        });
  const sessions = new Map<string, ProxySession>();
  o.runtime.observe.setUpstream(bridge ? spawnedProbe(o.server!.command) : tcpProbe(upstream));
  /** Sessions open now, including ones still waiting for upstream's session id. */
  let open = 0;
  let resource = o.resource ?? '';
  let metadataUrl = '';

  const unauthorized = (res: ServerResponse, e: GrantError | undefined) => {
    const challenge =
      e && e.code !== 'ERR_GRANT_MISSING'
        ? `Bearer realm="intentguard", error="invalid_token", error_description=${quote(`${e.code}: ${e.message}`)}, resource_metadata=${quote(metadataUrl)}`
        : `Bearer realm="intentguard", resource_metadata=${quote(metadataUrl)}`;
    sendJson(
      res,
      401,
      errorAnswer(null, -32001, `intentguard: ${e ? `${e.code}: ${e.message}` : 'authentication required'}`, {
        code: e ? (e.code ?? 'ERR_GRANT_MALFORMED') : 'ERR_GRANT_MISSING',
      }),
      { 'www-authenticate': challenge },
    );
  };

  const upstreamCall = (
    method: string,
    req: IncomingMessage,
    body: string | undefined,
    session: ProxySession | undefined,
    trace: Record<string, string> = {},
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...(o.upstreamHeaders ?? {}), ...trace };
      for (const h of MCP_HEADERS)
        if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      // Upstream only ever sees its own session id (none for a stateless server), never intentguard's.
      delete headers['mcp-session-id'];
      if (session?.upstreamSid) headers['mcp-session-id'] = session.upstreamSid;
      if (req.headers.host) headers.host = req.headers.host;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const target = new URL(upstream);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const up = send(target, { method, headers }, (r) => {
        session?.upstreamRequests.delete(up);
        resolve(r);
      });
      session?.upstreamRequests.add(up);
      up.on('error', (e) => {
        session?.upstreamRequests.delete(up);
        reject(e);
      });
      if (body !== undefined) up.end(body);
      else up.end();
    });

  const openSession = (
    identity: Identity | undefined,
    intent: Intent,
    release: () => void,
    transportSessionId?: string,
  ): ProxySession => {
    open++;
    const handle = monitor.open({
      intent,
      ...(identity && { identity }),
      transport: 'http',
      ...(transportSessionId && { transportSessionId }),
    });
    const s: ProxySession = {
      handle,
      sub: identity?.sub,
      waiters: new Map(),
      upstreamRequests: new Set(),
      lastSeen: Date.now(),
      // Prompts go on the stream their ask chose (see ask below), never on a default one.
      asker: new Asker(handle, () => {
        throw new Error('no open request stream to ask the client on');
      }),
    };
    handle.attach({
      deliver: (dir, m) => {
        if (dir === 's2c') {
          const w = s.waiters.get(idKey((m as { id?: unknown }).id));
          if (w) return w(m);
          if (s.stream && !s.stream.writableEnded) s.stream.write(`data: ${JSON.stringify(m)}\n\n`);
          return undefined;
        }
        // An answer to a server-initiated request: post it upstream.
        void upstreamCall('POST', { headers: {} } as IncomingMessage, JSON.stringify(m), s).then(
          (r) => r.resume(),
          () => undefined,
        );
        return undefined;
      },
      // An approval prompt (elicitation) to the client: sent on the stream of the POST that carries
      // the held call (Streamable HTTP lets a server send requests before its response there); the
      // client answers with a new POST, which is taken here and never forwarded.
      ask: async (method, params, signal) => {
        const res = s.promptOn;
        if (!res || res.writableEnded) throw new Error('no open request stream to ask the client on');
        return s.asker.ask(method, params, signal, (prompt) => {
          openSse(res, s);
          res.write(sseEvent(prompt));
        });
      },
      close: () => {
        for (const r of s.upstreamRequests) r.destroy();
        if (s.stream && !s.stream.writableEnded) s.stream.end();
        if (s.upstreamSid) {
          void upstreamCall('DELETE', { headers: {} } as IncomingMessage, undefined, s).then(
            (r) => r.resume(),
            () => undefined,
          );
        }
      },
    });
    void handle.whenEnded().then(() => {
      open--;
      release();
      if (s.sid && sessions.get(s.sid) === s) sessions.delete(s.sid);
    });
    return s;
  };

  /** Decide every message of a client body; returns what to forward and what to answer. */
  const decideClient = async (
    s: ProxySession,
    messages: unknown[],
  ): Promise<{ forward: unknown[]; answers: unknown[]; outcomes: Outcome[] }> => {
    const forward: unknown[] = [],
      answers: unknown[] = [],
      outcomes: Outcome[] = [];
    for (const m of messages) {
      // Through the era gate: version pinning, task ownership, MRTR retries (src/mrtr/tap-hook.ts).
      const out = await observeThrough(o.runtime.era, s.handle, 'c2s', m);
      outcomes.push(out);
      if (out.forward !== undefined) forward.push(out.forward);
      const answer =
        out.answer ?? (out.event?.kind === 'invalid' ? await invalidAnswer(s.handle, 'c2s', out) : undefined);
      if (answer !== undefined) answers.push(answer);
    }
    return { forward, answers, outcomes };
  };

  /** Decide one message from the server; returns the text to deliver (or nothing). */
  const decideServer = async (s: ProxySession, m: unknown, raw: string): Promise<{ text?: string }> => {
    const out = await observeThrough(o.runtime.era, s.handle, 's2c', m, Buffer.byteLength(raw), raw);
    // An answer to a refused server request goes back upstream.
    if (out.answer !== undefined)
      void upstreamCall('POST', { headers: {} } as IncomingMessage, JSON.stringify(out.answer), s).then(
        (r) => r.resume(),
        () => undefined,
      );
    return out.forward !== undefined ? { text: out.forward === m ? raw : JSON.stringify(out.forward) } : {};
  };

  /**
   * Decide every message of an upstream JSON body: the texts to deliver, and whether all passed as they
   * were. Undefined when the body is not JSON (shown to the monitor as invalid, never delivered).
   */
  const decideServerBody = async (
    s: ProxySession,
    text: string,
  ): Promise<{ texts: string[]; unchanged: boolean } | undefined> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      await s.handle.observe('s2c', text);
      return undefined;
    }
    const texts: string[] = [];
    let unchanged = true;
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
      const d = await decideServer(s, m, JSON.stringify(m));
      if (d.text !== undefined) texts.push(d.text);
      else unchanged = false;
    }
    return { texts, unchanged };
  };

  /**
   * Relay an upstream SSE body, tapping each event as it streams. An event growing past the size limit
   * is not buffered further: the upstream stream is cut, and the requests this stream still owes an
   * answer (`requests`) get "result withheld" errors.
   */
  const relaySse = (
    s: ProxySession,
    up: IncomingMessage,
    res: ServerResponse,
    prefix: unknown[],
    onEnd: () => void,
    requests: readonly { id: string | number }[] = [],
  ) => {
    // A job that throws ends the session (fail closed): nothing after it would be decided in order.
    const events = new OrderedQueue((e) => s.handle.close(`relay error: ${e.message}`));
    let partial = 0;
    let cut = false;
    for (const a of prefix) res.write(`data: ${JSON.stringify(a)}\n\n`);
    const parser = createParser({
      onEvent: (ev) => {
        partial = 0;
        void events.push(async () => {
          if (!ev.data) return;
          let m: unknown;
          try {
            m = JSON.parse(ev.data);
          } catch {
            await s.handle.observe('s2c', ev.data);
            return;
          }
          const d = await decideServer(s, m, ev.data);
          if (d.text !== undefined && !res.writableEnded)
            res.write(
              `${ev.id !== undefined ? `id: ${ev.id}\n` : ''}${ev.event ? `event: ${ev.event}\n` : ''}data: ${d.text}\n\n`,
            );
        });
      },
      onRetry: (ms) => {
        if (!res.writableEnded) res.write(`retry: ${ms}\n\n`);
      },
    });
    const finish = () =>
      void events.drained().then(() => {
        if (!res.writableEnded) res.end();
        onEnd();
      });
    up.setEncoding('utf8');
    up.on('data', (c: string) => {
      if (cut) return;
      partial += Buffer.byteLength(c);
      if (partial <= maxBody + SSE_EVENT_SLACK) {
        parser.feed(c);
        return;
      }
      cut = true;
      up.destroy();
      void events.push(async () => {
        const pending = s.handle.state().pending;
        const owed = requests.filter((r) => pending.has(pendingKey('c2s', r.id)));
        for (const a of await withheld(s, owed, maxBody)) if (!res.writableEnded) res.write(sseEvent(a));
      });
      finish();
    });
    up.on('end', () => {
      if (!cut) finish();
    });
    up.on('error', () => {
      if (!cut) finish();
    });
  };

  /**
   * Finish a POST whose response is already an event stream (an approval prompt went down it): the
   * answers intentguard made, then what upstream says to the forwarded messages, all as events.
   */
  const finishOnStream = async (
    req: IncomingMessage,
    res: ServerResponse,
    s: ProxySession,
    decided: { forward: unknown[]; answers: unknown[] },
    batch: boolean,
    early: unknown[],
  ) => {
    for (const a of [...decided.answers, ...early]) res.write(sseEvent(a));
    const requests = decided.forward.filter(isRequest);
    if (decided.forward.length === 0) {
      res.end();
      return;
    }
    for (const r of requests)
      s.waiters.set(idKey(r.id), (a) => {
        if (!res.writableEnded) res.write(sseEvent(a));
      });
    const done = () => {
      for (const r of requests) s.waiters.delete(idKey(r.id));
    };
    let up: IncomingMessage;
    try {
      up = await upstreamCall(
        'POST',
        req,
        JSON.stringify(batch ? decided.forward : decided.forward[0]),
        s,
        upstreamTraceHeaders(o.runtime.observe, s.handle.id, decided.forward, req.headers),
      );
    } catch (e) {
      done();
      for (const answer of await answerUnreached(s.handle, requests, e as Error)) res.write(sseEvent(answer));
      res.end();
      return;
    }
    if (String(up.headers['content-type'] ?? '').includes('text/event-stream')) {
      relaySse(s, up, res, [], done, requests);
      return;
    }
    const body = await readBody(up, maxBody, true);
    done();
    if (body === 'too-large') {
      for (const a of await withheld(s, requests, maxBody)) if (!res.writableEnded) res.write(sseEvent(a));
      res.end();
      return;
    }
    const text = body.toString('utf8');
    const decidedUp = text.trim() === '' ? { texts: [] } : await decideServerBody(s, text);
    for (const t of decidedUp?.texts ?? []) if (!res.writableEnded) res.write(sseEvent(t));
    res.end();
  };

  const handlePost = async (
    req: IncomingMessage,
    res: ServerResponse,
    s: ProxySession,
    messages: unknown[],
    batch: boolean,
  ) => {
    // Answers to intentguard's own prompts are taken here: they are not the server's business.
    if (s.asker.waiting) {
      messages = messages.filter((m) => !s.asker.take(m));
      if (messages.length === 0) {
        res.writeHead(202).end();
        return;
      }
    }
    // A halt while these are being decided answers them here, on this POST.
    const early: unknown[] = [];
    for (const m of messages) if (isRequest(m)) s.waiters.set(idKey(m.id), (a) => early.push(a));
    const takesSse = String(req.headers.accept ?? '').includes('text/event-stream');
    if (takesSse) s.promptOn = res;
    hintTraceparent(o.runtime.observe, s.handle.id, messages, req.headers.traceparent);
    const decided = await decideClient(s, messages);
    if (s.promptOn === res) s.promptOn = undefined;
    for (const m of messages) if (isRequest(m)) s.waiters.delete(idKey(m.id));
    // A prompt opened this POST as an event stream: everything else goes down it too.
    if (res.headersSent) {
      await finishOnStream(req, res, s, decided, batch, early);
      return;
    }
    decided.answers.push(...early);
    const requests = decided.forward.filter(isRequest);
    // One held call, refused for lack of approval, from a client with a grant: ask it to step up.
    const single = !batch && decided.outcomes[0];
    if (
      single &&
      single.decision?.action === 'reauthorize' &&
      single.answer !== undefined &&
      (o.stepUp403 ?? Boolean(gate)) &&
      single.event?.tool
    ) {
      const data = (single.answer as { error: { data: { reason: string } } }).error.data;
      sendJson(res, 403, single.answer, {
        'www-authenticate': `Bearer realm="intentguard", error="insufficient_scope", scope=${quote(`intent:tool:${single.event.tool}`)}, error_description=${quote(data.reason ?? 'outside the approved intent')}, resource_metadata=${quote(metadataUrl)}`,
      });
      return;
    }
    if (decided.forward.length === 0) {
      if (decided.answers.length === 0) res.writeHead(202).end();
      // Nothing in the body could be accepted (only invalid messages): 400, with the null-id errors saying why.
      else
        sendJson(
          res,
          decided.answers.every((a) => (a as { id?: unknown }).id === null) ? 400 : 200,
          batch ? decided.answers : decided.answers[0],
        );
      return;
    }
    const body = batch ? JSON.stringify(decided.forward) : JSON.stringify(decided.forward[0]);
    // Answers for these requests may come from a halt before upstream replies.
    let settled = false;
    const halted: unknown[] = [];
    for (const r of requests) {
      s.waiters.set(idKey(r.id), (answer) => {
        halted.push(answer);
        if (!settled && halted.length === requests.length) {
          settled = true;
          sendJson(res, 200, batch ? [...decided.answers, ...halted] : halted[0]);
        }
      });
    }
    const done = () => {
      for (const r of requests) s.waiters.delete(idKey(r.id));
    };
    let up: IncomingMessage;
    try {
      up = await upstreamCall(
        'POST',
        req,
        body,
        s,
        upstreamTraceHeaders(o.runtime.observe, s.handle.id, decided.forward, req.headers),
      );
    } catch (e) {
      done();
      if (settled) return;
      settled = true;
      const errs = await answerUnreached(s.handle, requests, e as Error);
      sendJson(
        res,
        502,
        batch
          ? [...decided.answers, ...errs]
          : (errs[0] ?? errorAnswer(null, -32603, 'upstream unavailable', { code: 'ERR_UPSTREAM' })),
      );
      return;
    }
    if (settled) {
      up.resume();
      done();
      return;
    }
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'cache-control'])
      if (typeof up.headers[h] === 'string') headers[h] = up.headers[h] as string;
    if (!s.sid) {
      // The session's first exchange: it is kept under upstream's session id, or, when upstream is
      // stateless (gives none) and accepted the request, under one of intentguard's own, so the
      // session's calls are still seen together (budgets, sequences, data flow).
      const sid = up.headers['mcp-session-id'];
      if (typeof sid === 'string') s.sid = s.upstreamSid = sid;
      else if ((up.statusCode ?? 0) >= 200 && (up.statusCode ?? 0) < 300) s.sid = `ig-${randomUUID()}`;
      if (s.sid) sessions.set(s.sid, s);
    }
    if (s.sid) headers['mcp-session-id'] = s.sid;
    const type = String(up.headers['content-type'] ?? '');
    if (type.includes('text/event-stream')) {
      settled = true;
      res.writeHead(up.statusCode ?? 200, headers);
      // From now on a halt answers these requests inside the stream.
      for (const r of requests)
        s.waiters.set(idKey(r.id), (a) => {
          if (!res.writableEnded) res.write(`data: ${JSON.stringify(a)}\n\n`);
        });
      relaySse(s, up, res, decided.answers, done, requests);
      return;
    }
    const upBody = await readBody(up, maxBody, true);
    done();
    if (settled) return;
    settled = true;
    if (upBody === 'too-large') {
      const answers = [...decided.answers, ...(await withheld(s, requests, maxBody))];
      sendJson(res, 200, batch || answers.length !== 1 ? answers : answers[0]);
      return;
    }
    const text = upBody.toString('utf8');
    if (!type.includes('application/json') || text.trim() === '') {
      if (requests.length > 0) {
        // Requests owed answers got something that is not MCP (an HTML error page, an empty body): it is
        // not delivered; each request gets an error the monitor records, and the client a 502.
        const why = new Error(
          `upstream answered HTTP ${up.statusCode ?? '?'} with ${type || 'no content type'}${text.trim() === '' ? ' and an empty body' : ''}`,
        );
        const errs = await answerUnreached(s.handle, requests, why);
        sendJson(res, 502, batch ? [...decided.answers, ...errs] : errs[0]);
        return;
      }
      // Only notifications and responses went up: the server's acknowledgement (202) passes as it is.
      res.writeHead(up.statusCode ?? 502, headers).end(text);
      return;
    }
    const fromUp = await decideServerBody(s, text);
    if (!fromUp) {
      sendJson(
        res,
        502,
        errorAnswer(null, -32603, 'intentguard: upstream sent invalid JSON', { code: 'ERR_JSONRPC_INVALID' }),
      );
      return;
    }
    const { texts: out, unchanged } = fromUp;
    const all = [...decided.answers.map((a) => JSON.stringify(a)), ...out];
    if (all.length === 0) {
      res.writeHead(202, headers).end();
      return;
    }
    const bodyOut =
      unchanged && decided.answers.length === 0
        ? text
        : batch || all.length > 1
          ? `[${all.join(',')}]`
          : all[0]!;
    res.writeHead(up.statusCode ?? 200, headers).end(bodyOut);
  };

  /** Read a POST body as JSON; on a wrong type (415), size (413) or syntax (400) answer and return NO_BODY. */
  const readJsonBody = async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    // Parsed as a media type: `text/plain; x=application/json` (which a browser sends cross-site
    // without a preflight) is not JSON; neither is a second Content-Type header.
    const types = req.headersDistinct['content-type'] ?? [];
    const problem = types.length > 1 ? 'more than one Content-Type header' : jsonContentTypeProblem(types[0]);
    if (problem !== undefined) {
      req.resume();
      sendJson(res, 415, errorAnswer(null, -32600, `intentguard: ${problem}`, { code: 'ERR_CONTENT_TYPE' }));
      return NO_BODY;
    }
    const body = await readBody(req, maxBody);
    if (body === 'too-large') {
      sendJson(
        res,
        413,
        errorAnswer(null, RPC_CODES.REFUSED, `intentguard: body exceeds ${maxBody} bytes`, {
          code: 'ERR_MESSAGE_TOO_LARGE',
        }),
      );
      return NO_BODY;
    }
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch (e) {
      sendJson(
        res,
        400,
        errorAnswer(null, -32700, `intentguard: parse error: ${(e as Error).message}`, {
          code: 'ERR_JSONRPC_INVALID',
        }),
      );
      return NO_BODY;
    }
  };

  const requestTimeout = o.requestTimeoutMs ?? 30_000;
  // Node checks request deadlines every connectionsCheckingInterval (30 s by default): check often
  // enough that a slow client is cut off near its deadline, not up to 30 s after it.
  const server = createServer(
    { connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(requestTimeout / 4))) },
    async (req, res) => {
      try {
        // Origin and Host first (DNS rebinding, cross-site requests): before authentication or any path.
        const refused = door.check(req.headers, req.socket.localPort, req.headersDistinct);
        if (refused) {
          req.resume();
          refuseRequest(res, refused);
          return;
        }
        // Past the door: an allowed browser origin gets CORS (its preflight is answered here).
        if (corsFor(req.headers, req.method, res)) return;
        const url = new URL(req.url ?? '/', 'http://localhost');
        // /metrics, /healthz, /readyz: answered here (past the door), never forwarded upstream.
        if (url.pathname !== path && (await o.runtime.observe.serve(req, res, url.pathname))) return;
        if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
          sendJson(res, 200, {
            resource,
            authorization_servers: [...(o.runtime.options.auth?.issuers ?? [])],
            bearer_methods_supported: ['header'],
            resource_name: 'intentguard MCP gateway',
          });
          return;
        }
        if (url.pathname !== path && !(legacy && url.pathname === messagesPath)) {
          sendJson(
            res,
            404,
            errorAnswer(null, -32601, `intentguard: no MCP endpoint at ${url.pathname} (use ${path})`, {
              code: 'ERR_NOT_FOUND',
            }),
          );
          return;
        }
        // Authentication first: nothing is forwarded for a request without a valid grant.
        let identity: Identity | undefined;
        let intent: Intent | undefined = defaultIntent;
        if (gate) {
          try {
            const g = await gate.verify(bearerToken(req.headers.authorization));
            identity = g.identity;
            intent = g.intent;
          } catch (e) {
            req.resume();
            // Only an absent Authorization header is "missing"; whatever was presented is refused with its own code.
            unauthorized(res, (e as GrantError).code === 'ERR_GRANT_MISSING' ? undefined : (e as GrantError));
            return;
          }
        }
        if (bridge) {
          const body = req.method === 'POST' ? await readJsonBody(req, res) : undefined;
          if (body !== NO_BODY) await bridge.handle(req, res, identity, intent, body);
          return;
        }
        if (legacy) {
          if (req.method === 'GET' && url.pathname === path) {
            if (!intent) {
              sendJson(
                res,
                403,
                errorAnswer(null, -32001, 'intentguard: no approved intent (configure grants or --intent)', {
                  code: 'ERR_GRANT_INTENT',
                }),
              );
              return;
            }
            await legacy.stream(req, res, identity, intent);
            return;
          }
          if (req.method === 'POST' && url.pathname === messagesPath) {
            const body = await readJsonBody(req, res);
            if (body !== NO_BODY) await legacy.post(req, res, url, identity, body);
            return;
          }
          req.resume();
          res.writeHead(405, { allow: url.pathname === path ? 'GET' : 'POST' }).end();
          return;
        }
        const sid = req.headers['mcp-session-id'];
        let s = typeof sid === 'string' ? sessions.get(sid) : undefined;
        if (typeof sid === 'string' && !s) {
          req.resume();
          sendJson(
            res,
            404,
            errorAnswer(null, -32001, 'intentguard: unknown or ended session', {
              code: 'ERR_SESSION_CLOSED',
            }),
          );
          return;
        }
        if (s) s.lastSeen = Date.now();
        if (s && identity && s.sub !== identity.sub) {
          req.resume();
          sendJson(
            res,
            403,
            errorAnswer(null, -32001, 'intentguard: this session belongs to another agent identity', {
              code: 'ERR_GRANT_CLAIM',
            }),
            {
              'www-authenticate': `Bearer realm="intentguard", error="invalid_token", error_description="session bound to another subject", resource_metadata=${quote(metadataUrl)}`,
            },
          );
          return;
        }
        if (req.method === 'POST') {
          const parsed = await readJsonBody(req, res);
          if (parsed === NO_BODY) return;
          if (!intent) {
            sendJson(
              res,
              403,
              errorAnswer(null, -32001, 'intentguard: no approved intent (configure grants or --intent)', {
                code: 'ERR_GRANT_INTENT',
              }),
            );
            return;
          }
          // MCP 2026-07-28: no initialize, no session id; admitted by the grant alone (src/stateless/http.ts).
          if (!s && stateless && isModernRequest(parsed)) {
            await stateless.handle(req, res, identity, intent, parsed);
            return;
          }
          // Without a session id only an initialize is taken: a stray POST must not leave a session behind.
          if (!s && !startsSession(res, parsed)) return;
          const fresh = !s;
          if (fresh && open >= maxSessions) {
            tooManySessions(res, maxSessions);
            return;
          }
          if (!s) {
            const release = sessionQuota.acquire(identity);
            if (!release) {
              quotaExceeded(res, sessionQuota.max);
              return;
            }
            s = openSession(identity, intent, release);
          }
          if (s.handle.status !== 'open') {
            sendJson(
              res,
              404,
              errorAnswer(null, RPC_CODES.HALTED, `intentguard: session ${s.handle.status}`, {
                code: s.handle.status === 'halted' ? 'ERR_SESSION_HALTED' : 'ERR_SESSION_CLOSED',
              }),
            );
            return;
          }
          const batch = Array.isArray(parsed);
          const messages = batch ? (parsed as unknown[]) : [parsed];
          if (messages.length === 0) {
            sendJson(
              res,
              400,
              errorAnswer(null, -32600, 'intentguard: empty batch', { code: 'ERR_JSONRPC_INVALID' }),
            );
            return;
          }
          try {
            await handlePost(req, res, s, messages, batch);
          } finally {
            // An initialize that did not open a session upstream (refused, failed) leaves nothing behind.
            if (fresh && !s.sid) s.handle.close('the session did not start');
          }
          return;
        }
        if (req.method === 'GET') {
          if (!s) {
            sendJson(
              res,
              400,
              errorAnswer(null, -32600, 'intentguard: GET needs an Mcp-Session-Id', {
                code: 'ERR_SESSION_CLOSED',
              }),
            );
            return;
          }
          const session = s;
          const up = await upstreamCall('GET', req, undefined, session);
          const headers: Record<string, string> = {};
          for (const h of ['content-type', 'cache-control', 'mcp-session-id'])
            if (typeof up.headers[h] === 'string') headers[h] = up.headers[h] as string;
          res.writeHead(up.statusCode ?? 200, headers);
          if (!String(up.headers['content-type'] ?? '').includes('text/event-stream')) {
            up.pipe(res);
            return;
          }
          session.stream = res;
          res.on('close', () => up.destroy());
          relaySse(session, up, res, [], () => {
            if (session.stream === res) session.stream = undefined;
          });
          return;
        }
        if (req.method === 'DELETE') {
          if (!s) {
            sendJson(
              res,
              404,
              errorAnswer(null, -32001, 'intentguard: unknown session', { code: 'ERR_SESSION_CLOSED' }),
            );
            return;
          }
          const up = await upstreamCall('DELETE', req, undefined, s);
          res.writeHead(up.statusCode ?? 200, {
            'content-type': String(up.headers['content-type'] ?? 'text/plain'),
          });
          up.pipe(res);
          s.handle.close('closed by client (DELETE)');
          return;
        }
        res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
      } catch (e) {
        sendJson(
          res,
          502,
          errorAnswer(null, -32603, `intentguard: ${(e as Error).message}`, { code: 'ERR_UPSTREAM' }),
        );
      }
    },
  );
  const idle = o.idleTimeoutMs ?? 30 * 60_000;
  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - idle;
      for (const s of sessions.values())
        if (s.lastSeen < cutoff && s.waiters.size === 0) s.handle.close('idle timeout');
      for (const s of bridge?.sessions.values() ?? [])
        if (s.lastSeen < cutoff && s.waiting.size === 0) s.handle.close('idle timeout');
    },
    Math.min(idle, 60_000),
  );
  sweeper.unref();
  server.requestTimeout = requestTimeout;
  server.headersTimeout = Math.min(server.requestTimeout, 10_000);
  try {
    await listen(server, o.host ?? '127.0.0.1', o.port ?? 0);
  } catch (e) {
    clearInterval(sweeper);
    legacy?.close();
    bridge?.close();
    throw e;
  }
  const addr = server.address() as { port: number };
  const base = `http://${o.host ?? '127.0.0.1'}:${addr.port}`;
  resource ||= `${base}${path}`;
  metadataUrl = `${base}/.well-known/oauth-protected-resource${path}`;
  return {
    url: `${base}${path}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweeper);
        for (const s of sessions.values()) s.handle.close('proxy shut down');
        legacy?.close();
        bridge?.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
