import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';

/** An upstream answer read whole (a JSON body, an acknowledgement): resolved once it has all come. */
export interface WholeAnswer {
  readonly kind: 'whole';
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body; `too-large` past the bound (the request was then cut, nothing more is read). */
  readonly body: Buffer | 'too-large';
}

/** An upstream answer read as it comes (an event stream): resolved at its headers. */
interface StreamedAnswer {
  readonly kind: 'stream';
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /**
   * The body; upstream is not read while its reader does not read (back-pressure). Destroying it cuts
   * the request (the client went away, the stream was cut at its size limit).
   */
  readonly body: Readable;
}

export type PoolAnswer = WholeAnswer | StreamedAnswer;

/** One request to an {@link HttpPool}'s endpoint. */
interface PoolRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  /** Largest whole body read; beyond it the answer is `too-large`. */
  readonly maxBytes: number;
  /** True for a content type read as a stream (`text/event-stream`), else the body is read whole. */
  readonly streamed: (contentType: string) => boolean;
  /**
   * Exchanges not over yet, to cut when their session ends: this one is in it from when it is sent
   * until its answer has been read to the end (a streamed answer included) or it failed.
   */
  readonly inFlight?: Set<{ destroy(): void }>;
}

/** Requests to one HTTP endpoint over kept-alive connections. */
export interface HttpPool {
  request(r: PoolRequest): Promise<PoolAnswer>;
  close(): Promise<void>;
}

const first = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

/**
 * Requests to `url` (http: or https:) on undici's connection pool, through its dispatch interface: a
 * JSON answer is gathered into one buffer with no stream in between, an event stream becomes a
 * Readable. Per request that costs a fraction of `node:http`'s ClientRequest, agent bookkeeping and
 * IncomingMessage (bench/stateless.ts, bench/profile-http.ts): the proxy's per-call path is largely this
 * hop. No redirect is followed, and no timeout is set (a tool call or a stream may take as long as
 * upstream takes; the client's own cancel, or its session's end, cuts it).
 * @example
 * const up = httpPool(new URL('http://127.0.0.1:8080/mcp'));
 * const a = await up.request({ method: 'POST', headers, body, maxBytes: 1 << 20, streamed: (t) => t.startsWith('text/event-stream') });
 */
export function httpPool(url: URL): HttpPool {
  // undici is loaded with the first pool, not with the module: a process that never proxies HTTP (the
  // stdio proxy, an in-process tap importing the package) does not carry its ≈ 7 MB of heap.
  let pool: Pool | undefined;
  const ready = loadUndici().then((u) => {
    loaded(u);
    pool = new u.Pool(url.origin, { pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
    return pool;
  });
  // A load failure is each request's error (below), not an unhandled rejection of its own.
  ready.catch(() => undefined);
  const options = (r: PoolRequest): Dispatcher.DispatchOptions => ({
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: r.method as Dispatcher.HttpMethod,
    headers: r.headers,
    body: r.body ?? null,
  });
  return {
    request: (r) =>
      new Promise((resolve, reject) => {
        const exchange = new Exchange(r, resolve, reject);
        const send = (p: Pool) => {
          try {
            p.dispatch(options(r), exchange);
          } catch (e) {
            exchange.onError(e as Error);
          }
        };
        if (pool) send(pool);
        else ready.then(send, (e: unknown) => exchange.onError(e as Error));
      }),
    close: () => ready.then((p) => p.close()),
  };
}

let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));
/** undici's header parser, set once the module is loaded (every Exchange runs after that). */
let parseHeaders: (raw: Buffer[] | string[]) => Record<string, string | string[]>;
const loaded = (u: typeof import('undici')) => (parseHeaders = u.util.parseHeaders as typeof parseHeaders);

/**
 * One request's handler, in the interface undici 7's pool takes (onConnect … onError): a class, so a
 * request costs one object rather than a closure per callback.
 */
class Exchange implements Dispatcher.DispatchHandler {
  #abort: (e?: Error) => void = () => undefined;
  #resume: () => void = () => undefined;
  #settled = false;
  #done = false;
  #stream: Readable | undefined;
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #size = 0;
  /**
   * What the session's `inFlight` holds until the exchange is over: its end cancels the request, or,
   * once the answer is a stream being read, that stream (a session's close leaves nothing open upstream).
   */
  readonly #cut = {
    destroy: () => {
      const e = new Error('cancelled: the session ended');
      if (this.#stream) this.#stream.destroy(e);
      else this.#abort(e);
    },
  };

  constructor(
    private readonly r: PoolRequest,
    private readonly resolve: (a: PoolAnswer) => void,
    private readonly reject: (e: Error) => void,
  ) {
    r.inFlight?.add(this.#cut);
  }

  onConnect(abort: (e?: Error) => void): void {
    this.#abort = abort;
  }

  onHeaders(status: number, raw: Buffer[] | string[] | null, resume: () => void): boolean {
    this.#status = status;
    this.#headers = (raw ? parseHeaders(raw) : {}) as IncomingHttpHeaders;
    this.#resume = resume;
    if (!this.r.streamed(first(this.#headers['content-type']))) return true;
    const body = new Readable({
      read: () => this.#resume(),
      destroy: (e, cb) => {
        if (!this.#done) this.#abort(e ?? new Error('cancelled'));
        cb(e);
      },
    });
    this.#stream = body;
    this.#settled = true;
    this.resolve({ kind: 'stream', status, headers: this.#headers, body });
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#stream) return this.#stream.push(chunk);
    if (this.#settled) return true;
    this.#size += chunk.length;
    if (this.#size > this.r.maxBytes) {
      this.#settled = true;
      this.#chunks = [];
      this.resolve({ kind: 'whole', status: this.#status, headers: this.#headers, body: 'too-large' });
      this.#abort(new Error('answer too large'));
      return true;
    }
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.#done = true;
    this.r.inFlight?.delete(this.#cut);
    if (this.#stream) {
      this.#stream.push(null);
      return;
    }
    if (this.#settled) return;
    this.#settled = true;
    const c = this.#chunks;
    this.resolve({
      kind: 'whole',
      status: this.#status,
      headers: this.#headers,
      body: c.length === 1 ? c[0]! : Buffer.concat(c),
    });
  }

  onError(e: Error): void {
    this.#done = true;
    this.r.inFlight?.delete(this.#cut);
    if (this.#stream && !this.#stream.destroyed) this.#stream.destroy(e);
    if (this.#settled) return;
    this.#settled = true;
    this.reject(e);
  }
}
