import type { IncomingMessage, ServerResponse } from 'node:http';
import { FORWARDED_HEADER, hop } from '../fleet/hop.js';
import type { ElsewhereOwned, FleetSessions } from '../fleet/sessions.js';
import type { Identity } from '../model/events.js';
import type { Intent } from '../model/intent.js';
import type { Monitor } from '../monitor/create.js';
import type { SessionHandle } from '../monitor/handle.js';
import type { EraGate } from '../mrtr/gate.js';
import { RPC_CODES } from '../errors.js';
import { SSE_EVENT_SLACK } from '../carrier/relay.js';
import { httpPool, type HttpPool, type PoolAnswer } from '../lib/http-pool.js';
import { copyParamHeaders } from '../lib/param-headers.js';
import { pendingKey } from '../monitor/state.js';
import { statelessKey, type StatelessKey } from './key.js';
import { sseData } from './sse.js';

/** Options of {@link createStatelessHttp}. */
export interface StatelessHttpOptions {
  readonly monitor: Monitor;
  readonly era: EraGate;
  /** The upstream MCP endpoint (a 2026-07-28 server: no session, one POST per request). */
  readonly upstream: URL;
  /** Requests to `upstream` (shared with the 2025 path's); default a pool of this one's own. */
  readonly pool?: HttpPool;
  /** Headers sent upstream (credentials); the client's Authorization is never forwarded. */
  readonly upstreamHeaders?: Readonly<Record<string, string>>;
  /** Largest upstream answer read (a JSON body, or one SSE event past {@link SSE_EVENT_SLACK}); default the monitor's maxMessageBytes. */
  readonly maxBodyBytes?: number;
  /**
   * A fleet (PostgreSQL store): each session is served by the instance holding its lease; a request
   * landing elsewhere is sent on to the owner, a dead owner's session is taken over from the record,
   * and an answer goes out only once what led to it is committed.
   */
  readonly fleet?: FleetSessions;
}

/** Client headers carried upstream (streamable-http.mdx, "Request Metadata"), besides `Mcp-Param-*`. */
const CARRIED = ['accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'traceparent', 'tracestate'];

const isEventStream = (type: string) => type.startsWith('text/event-stream');

const one = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

/** The answer withheld because what led to it could not be committed to the fleet's store. */
const recordFailed = (id: unknown, e: unknown) => ({
  jsonrpc: '2.0',
  id: id ?? null,
  error: {
    code: RPC_CODES.REFUSED,
    message: `intentguard: result withheld: it could not be recorded (${(e as Error)?.message ?? String(e)})`,
    data: { code: 'ERR_RECORD_FAILED' },
  },
});

/**
 * Answer with one JSON body, its length given (no chunked framing: one write, and the client knows the
 * body is whole when it has read that many bytes).
 */
const send = (res: ServerResponse, status: number, body: unknown, text = JSON.stringify(body)) => {
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    })
    .end(text);
};

/**
 * The text of one SSE `data:` line for `m`: upstream's own text when it is one line (it came as several
 * `data:` lines joined by line breaks, say), else serialized again.
 */
const oneLine = (m: unknown, text: string | undefined): string =>
  text !== undefined && !/[\r\n]/.test(text) ? text : JSON.stringify(m);

/** HTTP status of an error answer: the spec's codes are 400 on HTTP (basic/index.mdx, streamable-http.mdx). */
const statusOf = (answer: unknown): number => {
  const code = (answer as { error?: { code?: unknown } } | null)?.error?.code;
  return code === -32020 || code === -32021 || code === -32022 || code === -32602 ? 400 : 200;
};

/**
 * The stateless (2026-07-28) path of the HTTP proxy: a POST without `Mcp-Session-Id` whose body is a
 * modern request is admitted by its grant alone (there is no initialize), and joins the intentguard
 * session of its grant — keyed by the grant's `jti` (or subject) and the optional
 * `Intentguard-Correlation` header — so budgets, sequences, provenance and halts hold across requests
 * and connections. Each request is decided, then sent upstream as its own POST; the upstream's answer
 * (JSON, or an SSE stream of request-scoped notifications and the response, `subscriptions/listen`
 * included) is decided message by message on its way back.
 */
export function createStatelessHttp(o: StatelessHttpOptions) {
  const maxBody = o.maxBodyBytes ?? o.monitor.options.maxMessageBytes;
  const sessions = new Map<string, SessionHandle>();
  /** POSTs waiting for an answer the monitor delivers itself, by session key and request id. */
  const waiting = new Map<string, (answer: unknown) => void>();

  const sessionFor = (
    chosen: StatelessKey,
    identity: Identity | undefined,
    intent: Intent,
  ): SessionHandle => {
    const { key, basis, connection } = chosen;
    const known = sessions.get(key);
    if (known && known.status !== 'closed') return known;
    const s = o.monitor.open({
      intent,
      ...(identity && { identity }),
      transport: 'http-stateless',
      // What chose this session when the client's word did (never the key's trust): in the record.
      ...(basis !== undefined && { transportSessionId: basis }),
    });
    // Keyed by its connection: it ends with the connection (a client keeps neither across connections).
    connection?.once('close', () => {
      if (sessions.get(key) === s) sessions.delete(key);
      s.close('connection closed');
    });
    return adopt(key, s);
  };

  /** Serve `s` as the session of `key` here. */
  const adopt = (key: string, s: SessionHandle): SessionHandle => {
    // What the monitor delivers on its own (a halt's answers to requests in flight) goes to the POST
    // waiting for that id; a halt then holds by the session's status for every later request.
    s.attach({
      deliver: (dir, m) => {
        const id = (m as { id?: unknown } | null)?.id;
        if (dir === 's2c' && (typeof id === 'string' || typeof id === 'number'))
          waiting.get(`${key}\u0000${id}`)?.(m);
      },
      close: () => undefined,
    });
    sessions.set(key, s);
    return s;
  };

  const fleet = o.fleet;
  // A session of a state taken over from another instance goes on here, under its stateless key.
  fleet?.adopt('stateless', (row, handle) => {
    if (row.handle === undefined) return false;
    adopt(row.handle, handle);
    return true;
  });
  /** Sessions opened here whose fleet row is being written: their requests wait for it. */
  const registering = new Map<string, Promise<void>>();

  /**
   * The session of `key` if this instance owns its state (claimed, or taken over and rebuilt), or who
   * owns it. Every stateless session of a grant shares the grant's state key (its correlations too).
   */
  const own = async (
    chosen: StatelessKey,
    identity: Identity | undefined,
    intent: Intent,
  ): Promise<SessionHandle | ElsewhereOwned> => {
    const key = chosen.key;
    const scope = fleet!.scopeOf(identity, intent, `k:${key}`);
    if (!fleet!.holds(scope)) {
      const owner = await fleet!.own(scope, identity, intent);
      if (owner !== true) return owner;
    }
    const known = sessions.get(key);
    if (known && known.status !== 'closed') {
      await registering.get(known.id);
      return known;
    }
    const s = sessionFor(chosen, identity, intent);
    // Named in the fleet before anything of it is answered: a takeover finds it.
    const named = fleet!
      .register({ id: s.id, scope, kind: 'stateless', handle: key }, identity, intent)
      .finally(() => registering.delete(s.id));
    registering.set(s.id, named);
    try {
      await named;
    } catch (e) {
      sessions.delete(key);
      s.close('it could not be named in the fleet');
      throw e;
    }
    return s;
  };

  const leaseRefused = (res: ServerResponse, body: unknown, why: string, status = 503) => {
    if (!res.headersSent)
      res.setHeader('retry-after', String(Math.ceil((fleet?.leases.ttlMs ?? 1000) / 1000)));
    send(res, status, {
      jsonrpc: '2.0',
      id: (body as { id?: unknown }).id ?? null,
      error: { code: RPC_CODES.REFUSED, message: `intentguard: ${why}`, data: { code: 'ERR_SESSION_LEASE' } },
    });
  };

  /**
   * The session this instance serves the request in, or undefined when the request was answered here
   * (sent on to the owner, or refused: no owner can be reached, the store is away).
   */
  const fleetSession = async (
    chosen: StatelessKey,
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
    intent: Intent,
    body: unknown,
    text: string,
  ): Promise<SessionHandle | undefined> => {
    // Twice at most: the owner is found gone (not listening), its lease runs out, this one takes over.
    for (let round = 0; round < 2; round++) {
      let got: SessionHandle | ElsewhereOwned;
      try {
        got = await own(chosen, identity, intent);
      } catch (e) {
        leaseRefused(res, body, `cannot settle which instance serves this session: ${(e as Error).message}`);
        return undefined;
      }
      if (!('address' in got)) return got;
      if (one(req, FORWARDED_HEADER) !== undefined || !got.address) {
        leaseRefused(res, body, `this session is served by instance ${got.owner}`);
        return undefined;
      }
      if ((await hop(got.address, req, res, text, fleet!.leases.owner)) === 'done') return undefined;
      // Not there (crashed, stopped): it can no longer renew; wait out its lease, then take the session over.
      await new Promise((r) => setTimeout(r, Math.min(got.waitMs, fleet!.leases.ttlMs) + 20));
    }
    leaseRefused(res, body, 'the owner of this session cannot be reached and its lease has not run out');
    return undefined;
  };

  /** Send an answer, once everything observed before it is committed (a fleet); withheld if it cannot be. */
  const reply = async (res: ServerResponse, status: number, answer: unknown, id: unknown, text?: string) => {
    if (fleet)
      try {
        await fleet.durable();
      } catch (e) {
        send(res, 503, recordFailed(id, e));
        return;
      }
    send(res, status, answer, text);
  };

  // undici's dispatch (kept-alive connections, no stream for a JSON answer) rather than fetch or
  // node:http: a fetch per request costs a Request, Headers, an AbortSignal and a web stream, and
  // node:http a ClientRequest, agent bookkeeping and an IncomingMessage — several times what the request
  // itself costs the proxy (bench/stateless.ts). Redirects are not followed (as on the 2025 path).
  const pool = o.pool ?? httpPool(o.upstream);
  const upstreamPost = (req: IncomingMessage, text: string) => {
    const headers: Record<string, string> = { ...o.upstreamHeaders };
    for (const h of CARRIED) {
      const v = one(req, h);
      if (v !== undefined) headers[h] = v;
    }
    copyParamHeaders(req, headers);
    headers.accept ??= 'application/json, text/event-stream';
    headers['content-type'] = 'application/json';
    return pool.request({ method: 'POST', headers, body: text, maxBytes: maxBody, streamed: isEventStream });
  };

  /**
   * Decide one upstream message; returns what goes to the client (undefined: withheld), and its text:
   * upstream's own when it passes unchanged.
   */
  const decideBack = async (
    s: SessionHandle,
    text: string,
  ): Promise<{ message: unknown; text: string } | undefined> => {
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      return undefined;
    }
    const outcome = await o.era.back(s, await s.observe('s2c', m, Buffer.byteLength(text), text));
    if (outcome.forward === undefined) return undefined;
    return { message: outcome.forward, text: outcome.forward === m ? text : JSON.stringify(outcome.forward) };
  };

  /**
   * An upstream answer over the bound was not read: the monitor sees it as an oversized answer to the
   * request (if still owed), so the client gets "result withheld" (ERR_MESSAGE_TOO_LARGE) in its place.
   */
  const withheld = async (s: SessionHandle, id: unknown): Promise<unknown> => {
    if (typeof id !== 'string' && typeof id !== 'number') return undefined;
    if (!s.state().pending.has(pendingKey('c2s', id))) return undefined;
    return (await s.observe('s2c', { jsonrpc: '2.0', id }, maxBody + 1)).forward;
  };

  return {
    /**
     * Handle one modern POST (already authenticated, body parsed). `wire`: the body as it came and its
     * size: the monitor reads those bytes (a key given twice is seen, src/events/ambiguity.ts), and
     * they are what goes upstream when the request passes unchanged (no second serialization).
     */
    async handle(
      req: IncomingMessage,
      res: ServerResponse,
      identity: Identity | undefined,
      intent: Intent,
      body: unknown,
      wire?: { readonly text: string; readonly bytes: number },
    ): Promise<void> {
      const chosen = statelessKey(identity, req, body, o.monitor.options.mode);
      const key = chosen.key;
      const s = fleet
        ? await fleetSession(chosen, req, res, identity, intent, body, wire?.text ?? JSON.stringify(body))
        : sessionFor(chosen, identity, intent);
      if (!s) return;
      const id = (body as { id?: unknown }).id;
      if (s.status !== 'open') {
        send(res, 404, {
          jsonrpc: '2.0',
          id: id ?? null,
          error: {
            code: RPC_CODES.HALTED,
            message: `intentguard: session ${s.status}`,
            data: { code: s.status === 'halted' ? 'ERR_SESSION_HALTED' : 'ERR_SESSION_CLOSED' },
          },
        });
        return;
      }
      const admitted = await o.era.admit(s, body, (name) => one(req, name));
      if ('answer' in admitted) {
        await s.record('c2s', body);
        await s.record('s2c', admitted.answer);
        await reply(res, statusOf(admitted.answer), admitted.answer, id);
        return;
      }
      const wait = `${key}\u0000${String(id)}`;
      const delivered = new Promise<unknown>((resolve) => waiting.set(wait, resolve));
      // The gate may have changed the message (intentguard's own retry material taken out): then the
      // bytes that came are not the message decided, and neither are they forwarded.
      const asCame = admitted.message === body ? wire : undefined;
      const outcome = await s.observe('c2s', admitted.message, asCame?.bytes, asCame?.text);
      if (outcome.answer === undefined && outcome.forward === undefined && id !== undefined) {
        // Decided by a halt (its answer is delivered, not returned): wait for it, or the session's end.
        const answer = await Promise.race([delivered, s.whenEnded().then(() => undefined)]);
        waiting.delete(wait);
        await reply(
          res,
          200,
          answer ?? {
            jsonrpc: '2.0',
            id,
            error: {
              code: RPC_CODES.HALTED,
              message: `intentguard: session ${s.status}`,
              data: { code: 'ERR_SESSION_HALTED' },
            },
          },
          id,
        );
        return;
      }
      waiting.delete(wait);
      if (outcome.answer !== undefined) {
        const answer = o.era.answer(s, admitted.message, admitted.era, outcome.answer);
        await reply(res, statusOf(answer), answer, id);
        return;
      }
      if (outcome.forward === undefined) {
        res.writeHead(202).end();
        return;
      }
      let up: PoolAnswer;
      try {
        const text = asCame && outcome.forward === body ? asCame.text : JSON.stringify(outcome.forward);
        up = await upstreamPost(req, text);
      } catch (e) {
        send(res, 502, {
          jsonrpc: '2.0',
          id: id ?? null,
          error: {
            code: -32603,
            message: `intentguard: upstream: ${(e as Error).message}`,
            data: { code: 'ERR_UPSTREAM' },
          },
        });
        return;
      }
      const status = up.status;
      if (up.kind === 'stream') {
        const stream = up;
        res.writeHead(status, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
        });
        // Closing the client's stream cancels the request upstream too (streamable-http.mdx, "Cancellation").
        let cancelled = false;
        res.once('close', () => {
          cancelled = true;
          stream.body.destroy();
        });
        const write = (text: string) => res.write(`event: message\ndata: ${text}\n\n`);
        /**
         * One event to the client (`text`: the message as upstream sent it, when it passed unchanged); in
         * a fleet once what led to it is committed (false: withheld, stop).
         */
        const event = async (m: unknown, text?: string): Promise<boolean> => {
          if (fleet)
            try {
              await fleet.durable();
            } catch (e) {
              write(JSON.stringify(recordFailed(id, e)));
              return false;
            }
          write(oneLine(m, text));
          return true;
        };
        try {
          for await (const item of sseData(stream.body, maxBody + SSE_EVENT_SLACK)) {
            if ('tooLarge' in item) {
              const answer = await withheld(s, id);
              if (answer !== undefined) await event(answer);
              break;
            }
            const back = await decideBack(s, item.data);
            if (back !== undefined && !(await event(back.message, back.text))) break;
          }
        } catch (e) {
          // The client went away (its stream closed, upstream's cancelled with it): nothing to tell.
          if (!cancelled) throw e;
        }
        res.end();
        return;
      }
      const read = up.body;
      if (read === 'too-large') {
        const answer = await withheld(s, id);
        send(
          res,
          502,
          answer ?? {
            jsonrpc: '2.0',
            id: id ?? null,
            error: {
              code: RPC_CODES.REFUSED,
              message: `intentguard: upstream answer exceeds ${maxBody} bytes`,
              data: { code: 'ERR_MESSAGE_TOO_LARGE' },
            },
          },
        );
        return;
      }
      const text = read.toString('utf8');
      if (text.length === 0) {
        res.writeHead(status).end();
        return;
      }
      const back = await decideBack(s, text);
      if (back === undefined) {
        send(res, 502, {
          jsonrpc: '2.0',
          id: id ?? null,
          error: {
            code: -32603,
            message: 'intentguard: upstream answer withheld',
            data: { code: 'ERR_UPSTREAM' },
          },
        });
        return;
      }
      await reply(res, status, back.message, id, back.text);
    },
    /** Sessions open on this path, by key. */
    sessions: () => [...sessions.values()],
  };
}
