import { endOwing } from '../../carrier/relay.js';
import type { EraGate } from '../../mrtr/gate.js';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import type { Monitor } from '../../monitor/create.js';
import { quotaExceeded, type SessionQuota } from '../../carrier/session-quota.js';
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
import type { Observability } from '../../observe/observability.js';
import { errorAnswer } from '../../jsonrpc/message.js';
import { legacyUpstream } from './legacy-upstream.js';
import { LegacySession, type LegacyProxy } from './legacy-session.js';
import { postToLegacy } from './legacy-post.js';
import { isEventStream } from './sse.js';

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
  /** The era gate (src/mrtr/gate.ts): every message on this path is decided per request too. */
  readonly era?: EraGate;
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
  /** Close every session, first answering each client request still owed with `message`. */
  close(message: string): Promise<void>;
}

export function createLegacySse(o: LegacySseOptions): LegacySse {
  const sessions = new Map<string, LegacySession>();
  const p: LegacyProxy = {
    upstream: legacyUpstream(o.upstreamHeaders),
    url: o.upstream,
    messagesPath: o.messagesPath,
    maxMessageBytes: o.monitor.options.maxMessageBytes,
    ...(o.era && { era: o.era }),
  };
  return {
    async stream(req, res, identity, intent) {
      const full = tooManySessions(sessions.size, o.maxSessions);
      if (full) return refuse(res, full);
      // The agent's quota is reserved before upstream is called, so concurrent streams cannot overshoot it.
      const release = o.sessionQuota ? o.sessionQuota.acquire(identity) : () => undefined;
      if (!release) return quotaExceeded(res, o.sessionQuota!.max);
      const up = await p.upstream.openStream(o.upstream, req.headers.host).catch((e: unknown) => {
        release();
        throw e;
      });
      if (up.statusCode !== 200 || !isEventStream(up)) {
        release();
        up.resume();
        const type = String(up.headers['content-type'] ?? '');
        const message = `intentguard: upstream SSE endpoint answered ${up.statusCode} ${type}`;
        return sendJson(res, 502, errorAnswer(null, -32603, message, { code: 'ERR_UPSTREAM' }));
      }
      const id = randomUUID();
      const handle = o.monitor.open({
        intent,
        ...(identity && { identity }),
        transport: 'sse',
        transportSessionId: id,
      });
      const s = new LegacySession(p, id, handle, identity?.sub, res, up, req.headers.host);
      sessions.set(id, s);
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
      s.relay();
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
      return postToLegacy(req, res, s, body, o.observe);
    },

    async close(message) {
      await Promise.all(
        [...sessions.values()].map((s) => endOwing(s.handle, message, 'proxy shut down', (a) => s.write(a))),
      );
    },
  };
}
