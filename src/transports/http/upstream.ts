import type { IncomingHttpHeaders } from 'node:http';
import type { HttpPool, PoolAnswer } from '../../lib/http-pool.js';
import { isEventStreamType } from './sse-format.js';

/** What an upstream call needs of the session it belongs to. */
export interface UpstreamSession {
  /** The Mcp-Session-Id upstream gave (none for a stateless upstream, or before it answered). */
  readonly upstreamSid?: string | undefined;
  /** Upstream requests not answered yet, cut when the session ends. */
  readonly upstreamRequests: Set<{ destroy(): void }>;
}

/** The upstream MCP server of a Streamable HTTP proxy. */
export interface Upstream {
  /**
   * One HTTP request upstream. Of the client's headers (`from`) only the MCP ones travel
   * (`mcp-protocol-version`, `last-event-id`, `accept`, and `host`), never its Authorization; the
   * session id sent is upstream's own (`session.upstreamSid`), never intentguard's. `trace`: the trace
   * context headers for upstream (`traceparent`, `tracestate`).
   */
  call(
    method: string,
    from: IncomingHttpHeaders,
    body: string | undefined,
    session?: UpstreamSession,
    trace?: Readonly<Record<string, string>>,
  ): Promise<PoolAnswer>;
  /**
   * A message intentguard sends upstream on its own (an answer to a server request, a refusal of one):
   * POSTed, its response drained and dropped, a failure ignored (the server's request then times out
   * there, as it would on a lost connection).
   */
  post(session: UpstreamSession, message: unknown): void;
  /** End the session upstream (DELETE with its session id), ignoring the outcome. */
  end(session: UpstreamSession): void;
  /** Close the kept-alive connections (the proxy is shutting down). */
  close(): Promise<void>;
}

/** The client's headers carried upstream (its session id never is: upstream's own goes instead). */
const MCP_HEADERS = ['mcp-protocol-version', 'last-event-id', 'accept'];

/**
 * `pool`: requests to the upstream MCP endpoint; `headers`: sent on every request (upstream
 * credentials); `maxBytes`: the largest answer body read whole (an event stream is read event by event).
 */
export function createUpstream(
  pool: HttpPool,
  headers: Readonly<Record<string, string>> = {},
  maxBytes: number,
): Upstream {
  const call: Upstream['call'] = (method, from, body, session, trace = {}) => {
    const h: Record<string, string> = { ...headers, ...trace };
    for (const name of MCP_HEADERS) if (typeof from[name] === 'string') h[name] = from[name];
    // Upstream only ever sees its own session id (none for a stateless server), never intentguard's.
    // (MCP_HEADERS names none: a `delete` on every request would turn the object into a slow dictionary.)
    if ('mcp-session-id' in h) delete h['mcp-session-id'];
    if (session?.upstreamSid) h['mcp-session-id'] = session.upstreamSid;
    if (from.host) h.host = from.host;
    if (body !== undefined) h['content-type'] = 'application/json';
    return pool.request({
      method,
      headers: h,
      body,
      maxBytes,
      streamed: isEventStreamType,
      ...(session && { inFlight: session.upstreamRequests }),
    });
  };
  const drop = (p: Promise<PoolAnswer>) =>
    void p.then(
      (r) => r.kind === 'stream' && r.body.resume(),
      () => undefined,
    );
  return {
    call,
    post: (session, message) => drop(call('POST', {}, JSON.stringify(message), session)),
    end: (session) => drop(call('DELETE', {}, undefined, session)),
    close: () => pool.close(),
  };
}
