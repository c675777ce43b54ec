import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import type { Monitor } from '../../monitor/create.js';
import type { SessionHandle } from '../../monitor/handle.js';
import { quotaExceeded, type SessionQuota } from '../../carrier/session-quota.js';
import { SSE_EVENT_SLACK, answerUnreached, endedByUpstream, invalidAnswer } from '../../carrier/relay.js';
import {
  emptyBatch,
  firstRefusal,
  notOpen,
  otherAgent,
  refuse,
  sendJson,
  tooManySessions,
  unknownSession,
} from './refusals.js';
import { Asker } from '../../carrier/asker.js';
import { hintTraceparent, upstreamTraceHeaders } from '../../observe/hooks.js';
import type { Observability } from '../../observe/observability.js';
import { OrderedQueue } from '../../carrier/queue.js';
import { Valve } from '../../carrier/valve.js';
import { errorAnswer } from '../../jsonrpc/message.js';

/**
 * The legacy HTTP+SSE transport (protocol 2024-11-05), proxied: the client holds `GET <path>` open as
 * an SSE stream whose first event names the endpoint to POST messages to; the server answers on the
 * stream. intentguard opens the upstream stream for each client stream, taps every `message` event,
 * rewrites the `endpoint` event to its own `/messages?sessionId=…`, and decides every POSTed message
 * before it goes upstream. Refusals are answered on the client's stream, as the server would.
 */
export interface LegacySseOptions {
  readonly monitor: Monitor;
  /** The upstream SSE endpoint (`http://host/sse`). */
  readonly upstream: URL;
  readonly upstreamHeaders?: Readonly<Record<string, string>>;
  /** Where clients POST messages (default `/messages`). */
  readonly messagesPath: string;
  /** Most streams (sessions) at once; a new one beyond it gets 503. */
  readonly maxSessions: number;
  /** Sessions per agent identity; one more gets 429 (ERR_SESSION_QUOTA) before upstream is called. */
  readonly sessionQuota?: SessionQuota;
  /** Traces: a POST's `traceparent` header is continued, and sent upstream (see `upstreamTraceHeaders`). */
  readonly observe?: Observability;
}

export interface LegacySse {
  /** `GET <sse path>`: open a session and relay the upstream stream. */
  stream(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
    intent: Intent,
  ): Promise<void>;
  /** `POST <messages path>?sessionId=…`: decide one client message (or a batch) and post it upstream. */
  post(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    identity: Identity | undefined,
    body: unknown,
  ): Promise<void>;
  close(): void;
}

interface LegacySession {
  readonly id: string;
  readonly handle: SessionHandle;
  readonly sub: string | undefined;
  readonly res: ServerResponse;
  /** Where upstream told us to POST (from its `endpoint` event). */
  endpoint?: URL;
  readonly endpointReady: Promise<URL>;
  upstream?: { destroy(): void };
  /** intentguard's own prompts (approval elicitations), sent on the stream; answers arrive as POSTs. */
  readonly asker: Asker;
  /** Settles `endpointReady` (upstream's `endpoint` event). */
  readonly resolveEndpoint: (endpoint: URL) => void;
  /** Back-pressure: the upstream stream is not read while the client's is full or decisions back up. */
  readonly valve: Valve;
}

export function createLegacySse(o: LegacySseOptions): LegacySse {
  const sessions = new Map<string, LegacySession>();
  const send = (target: URL) => (target.protocol === 'https:' ? httpsRequest : httpRequest);

  const write = (s: LegacySession, m: unknown) => {
    // A data value with line breaks is sent as several data lines (the client joins them back).
    const text = typeof m === 'string' ? m.replace(/\r?\n/g, '\ndata: ') : JSON.stringify(m);
    if (!s.res.writableEnded) s.valve.write(s.res, `event: message\ndata: ${text}\n\n`);
  };

  /** POST one message to the upstream endpoint; resolves with the upstream status. */
  const postUpstream = (
    s: LegacySession,
    text: string,
    host: string | undefined,
    trace: Record<string, string> = {},
  ): Promise<number> =>
    s.endpointReady.then(
      (endpoint) =>
        new Promise<number>((resolve, reject) => {
          const headers: Record<string, string> = {
            ...(o.upstreamHeaders ?? {}),
            ...trace,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(text)),
          };
          if (host) headers.host = host;
          const up = send(endpoint)(endpoint, { method: 'POST', headers }, (r) => {
            r.resume();
            resolve(r.statusCode ?? 502);
          });
          up.on('error', reject);
          up.end(text);
        }),
    );

  /** One upstream event, decided: the endpoint event rewritten to intentguard's, a message delivered or not. */
  const onUpstreamEvent = async (s: LegacySession, ev: EventSourceMessage, host: string | undefined) => {
    if (ev.event === 'endpoint') {
      try {
        s.endpoint = new URL(ev.data.trim(), o.upstream);
      } catch {
        s.handle.close('ended by upstream (invalid endpoint event)');
        return;
      }
      s.resolveEndpoint(s.endpoint);
      if (!s.res.writableEnded)
        s.valve.write(s.res, `event: endpoint\ndata: ${o.messagesPath}?sessionId=${s.id}\n\n`);
      return;
    }
    if (ev.event !== undefined && ev.event !== 'message') return;
    let m: unknown;
    try {
      m = JSON.parse(ev.data);
    } catch {
      // Seen (and refused as invalid), never delivered.
      await s.handle.observe('s2c', ev.data);
      return;
    }
    const out = await s.handle.observe('s2c', m, Buffer.byteLength(ev.data), ev.data);
    if (out.answer !== undefined)
      void postUpstream(s, JSON.stringify(out.answer), host).catch(() => undefined);
    if (out.forward !== undefined) write(s, out.forward === m ? ev.data : out.forward);
  };

  /**
   * Relay the upstream stream into the client's, one event at a time, in order, under back-pressure;
   * when it ends, what the server still owed is answered with errors and the client's stream ends.
   */
  const relayStream = (s: LegacySession, up: IncomingMessage, host: string | undefined) => {
    // A job that throws ends the session (fail closed): nothing after it would be decided in order.
    const events = new OrderedQueue((e) => s.handle.close(`relay error: ${e.message}`));
    // Bytes of the event being read: one growing past the size limit is not buffered, the stream is cut
    // (the session then ends as ended by upstream, and what the server still owed is answered with errors).
    let partial = 0;
    const parser = createParser({
      onEvent: (ev) => {
        partial = 0;
        const bytes = ev.data.length;
        s.valve.take(bytes);
        void events.push(() => onUpstreamEvent(s, ev, host).finally(() => s.valve.give(bytes)));
      },
    });
    up.setEncoding('utf8');
    up.on('data', (c: string) => {
      partial += Buffer.byteLength(c);
      if (partial > o.monitor.options.maxMessageBytes + SSE_EVENT_SLACK)
        up.destroy(new Error('an event exceeded the size limit'));
      else parser.feed(c);
    });
    const ended = () =>
      void events.drained().then(async () => {
        await endedByUpstream(
          s.handle,
          'intentguard: the server closed its stream before answering',
          'ended by upstream (SSE stream closed)',
          (a) => write(s, a),
        );
        if (!s.res.writableEnded) s.res.end();
      });
    up.on('end', ended);
    up.on('error', ended);
  };

  return {
    async stream(req, res, identity, intent) {
      const full = tooManySessions(sessions.size, o.maxSessions);
      if (full) return refuse(res, full);
      // The agent's quota is reserved before upstream is called, so concurrent streams cannot overshoot it.
      const release = o.sessionQuota ? o.sessionQuota.acquire(identity) : () => undefined;
      if (!release) {
        quotaExceeded(res, o.sessionQuota!.max);
        return;
      }
      const headers: Record<string, string> = { ...(o.upstreamHeaders ?? {}), accept: 'text/event-stream' };
      if (req.headers.host) headers.host = req.headers.host;
      const up = await new Promise<IncomingMessage>((resolve, reject) => {
        const r = send(o.upstream)(o.upstream, { method: 'GET', headers }, resolve);
        r.on('error', reject);
        r.end();
      }).catch((e: unknown) => {
        release();
        throw e;
      });
      if (up.statusCode !== 200 || !String(up.headers['content-type'] ?? '').includes('text/event-stream')) {
        release();
        up.resume();
        sendJson(
          res,
          502,
          errorAnswer(
            null,
            -32603,
            `intentguard: upstream SSE endpoint answered ${up.statusCode} ${String(up.headers['content-type'] ?? '')}`,
            { code: 'ERR_UPSTREAM' },
          ),
        );
        return;
      }
      const id = randomUUID();
      const handle = o.monitor.open({
        intent,
        ...(identity && { identity }),
        transport: 'sse',
        transportSessionId: id,
      });
      let resolveEndpoint!: (u: URL) => void;
      const s: LegacySession = {
        id,
        handle,
        sub: identity?.sub,
        res,
        endpointReady: new Promise<URL>((r) => {
          resolveEndpoint = r;
        }),
        upstream: up,
        resolveEndpoint: (u) => resolveEndpoint(u),
        valve: new Valve(up, 'sse stream'),
        // A server speaks to its client on the stream: so do intentguard's approval prompts.
        asker: new Asker(handle, (m) => write(s, m)),
      };
      sessions.set(id, s);
      handle.attach({
        deliver: (dir, m) => {
          if (dir === 's2c') return write(s, m);
          // An answer to a server-initiated request: post it upstream.
          return postUpstream(s, JSON.stringify(m), req.headers.host).then(
            () => undefined,
            () => undefined,
          );
        },
        close: () => {
          up.destroy();
          if (!res.writableEnded) res.end();
        },
        ask: (method, params, signal) => s.asker.ask(method, params, signal),
      });
      void handle.whenEnded().then(() => {
        release();
        sessions.delete(id);
      });
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
      });
      res.on('close', () => {
        up.destroy();
        handle.close('closed by client (SSE stream ended)');
      });

      relayStream(s, up, req.headers.host);
    },

    async post(req, res, url, identity, body) {
      const s = sessions.get(url.searchParams.get('sessionId') ?? '');
      const refused = firstRefusal(
        unknownSession(s !== undefined),
        s && notOpen(s.handle.status),
        s && otherAgent(s.sub, identity),
        emptyBatch(body),
      );
      if (refused || !s) return refuse(res, refused!);
      // Answers to intentguard's own prompts are taken here (the call they unblock may be this
      // client's other, still open POST); they never reach the server.
      const messages = (Array.isArray(body) ? body : [body]).filter((m) => !s.asker.take(m));
      if (messages.length === 0) {
        res.writeHead(202).end('Accepted');
        return;
      }
      const forward: unknown[] = [];
      if (o.observe) hintTraceparent(o.observe, s.handle.id, messages, req.headers.traceparent);
      for (const m of messages) {
        const out = await s.handle.observe('c2s', m);
        // Legacy servers answer on the stream, so intentguard's refusals go there too.
        const answer =
          out.answer ??
          (out.event?.kind === 'invalid' ? await invalidAnswer(s.handle, 'c2s', out) : undefined);
        if (answer !== undefined) write(s, answer);
        if (out.forward !== undefined) forward.push(out.forward);
      }
      if (forward.length === 0) {
        res.writeHead(202).end('Accepted');
        return;
      }
      const text = JSON.stringify(Array.isArray(body) ? forward : forward[0]);
      try {
        const status = await postUpstream(
          s,
          text,
          req.headers.host,
          o.observe && upstreamTraceHeaders(o.observe, s.handle.id, forward, req.headers),
        );
        if (status >= 200 && status < 300) {
          res.writeHead(202).end('Accepted');
          return;
        }
        // The server refused the POST: its requests will never be answered on the stream, so they are
        // answered with errors there now (recorded), rather than left to the client's timeout.
        for (const answer of await answerUnreached(
          s.handle,
          forward,
          new Error(`upstream refused the message (HTTP ${status})`),
        ))
          write(s, answer);
        res.writeHead(status).end('upstream refused the message');
      } catch (e) {
        // Nothing reached the server: every forwarded request gets an error on the stream.
        for (const answer of await answerUnreached(s.handle, forward, e as Error)) write(s, answer);
        sendJson(
          res,
          502,
          errorAnswer(null, -32603, `intentguard: upstream unavailable: ${(e as Error).message}`, {
            code: 'ERR_UPSTREAM',
          }),
        );
      }
    },

    close() {
      for (const s of sessions.values()) s.handle.close('proxy shut down');
    },
  };
}
