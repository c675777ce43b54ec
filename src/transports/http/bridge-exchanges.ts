import type { ServerResponse } from 'node:http';
import type { Valve } from '../../carrier/valve.js';
import { META } from '../../era/keys.js';
import { isObject, isRequest, isResponse } from '../../jsonrpc/message.js';
import { openSse, sseEvent } from './sse-format.js';
import { idKey } from './sessions.js';

/** One POST that carries requests: answered when every request it carries has its answer. */
interface Exchange {
  readonly res: ServerResponse;
  /** The ids its requests still wait on, with how many requests share each (a batch may repeat one). */
  readonly ids: Map<string, number>;
  readonly batch: boolean;
  /** Answers gathered for a JSON body, or undefined once the response became an event stream. */
  json: string[] | undefined;
  /** The status of a JSON body (400: intentguard refused the request as the specification asks). */
  status?: number;
}

/**
 * Where a bridged session's messages for the client go (`intentguard http -- <command>`): each POST
 * that carries requests is an exchange, answered with one JSON body when nothing else has to travel
 * with its answers first, and as an event stream when something does (progress, a server request, an
 * approval prompt); messages that belong to no request go on the GET stream. Every write to a client
 * counts against the session's valve (the server's stdout is not read while a client is full).
 */
export class Exchanges {
  /** Client request id (typed key) → the POST waiting for its answer. */
  readonly #waiting = new Map<string, Exchange>();
  /** Progress token (typed key) → client request id key, to put progress on the right stream. */
  readonly #progress = new Map<string, string>();
  /** The GET stream, for server messages that belong to no request. */
  stream: ServerResponse | undefined;

  constructor(
    private readonly sid: string,
    private readonly valve: Valve,
  ) {}

  /** Requests waiting for their answer (the idle sweeper leaves such a session open). */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** The GET stream, while it is open. */
  get openStream(): ServerResponse | undefined {
    return this.stream && !this.stream.writableEnded ? this.stream : undefined;
  }

  /** A POST carrying `messages`: its requests (and their progress tokens) wait on it from now on. */
  open(res: ServerResponse, messages: readonly unknown[], batch: boolean): Exchange {
    const x: Exchange = { res, ids: new Map(), batch, json: [] };
    for (const m of messages) {
      if (!isRequest(m)) continue;
      const k = idKey(m.id);
      x.ids.set(k, (x.ids.get(k) ?? 0) + 1);
      this.#waiting.set(k, x);
      const params = m.params;
      const token = isObject(params) && isObject(params._meta) ? params._meta.progressToken : undefined;
      if (token !== undefined) this.#progress.set(idKey(token), k);
    }
    res.on('close', () => {
      // The client went away: its requests' answers have nowhere to go (the session stays).
      for (const k of x.ids.keys()) if (this.#waiting.get(k) === x) this.#waiting.delete(k);
    });
    return x;
  }

  /**
   * Deliver one message to the client: on its POST (JSON or stream), else the GET stream. False for a
   * server request with nowhere to go (the caller answers the server rather than leave it waiting).
   */
  deliver(m: unknown, text: string): boolean {
    const target = this.#exchangeFor(m, isRequest(m) || !this.stream);
    if (!target) {
      // An answer whose POST is gone (the client disconnected) has nowhere to go; it was recorded.
      if (isResponse(m)) return true;
      const stream = this.openStream;
      if (stream) this.valve.write(stream, sseEvent(text));
      return stream !== undefined || !isRequest(m);
    }
    const { x, answers } = target;
    if (answers === undefined) this.#toStream(x);
    if (x.json !== undefined) x.json.push(text);
    else if (!x.res.writableEnded) this.valve.write(x.res, sseEvent(text));
    if (answers !== undefined) this.#answered(x, answers);
    return true;
  }

  /** An approval prompt rides the stream of the latest open POST (the held call's), else the GET stream. */
  prompt(request: unknown): void {
    const last = this.#latest();
    if (last) {
      this.#toStream(last);
      last.res.write(sseEvent(JSON.stringify(request)));
    } else this.stream!.write(sseEvent(JSON.stringify(request)));
  }

  /** Whether a prompt has a stream to ride. */
  get canPrompt(): boolean {
    return this.#waiting.size > 0 || this.stream !== undefined;
  }

  /**
   * A POST's own job is done (`invalid`: its null-id answers). Undefined when its response is settled
   * now or later; otherwise what it amounts to: refused (400, nothing in it could be accepted) or
   * accepted (202, nothing to answer).
   */
  settle(x: Exchange, invalid: readonly string[], forwarded: number): 'refused' | 'accepted' | undefined {
    if (x.res.headersSent) {
      for (const t of invalid) if (!x.res.writableEnded) x.res.write(sseEvent(t));
      return undefined;
    }
    if (x.ids.size > 0) {
      x.json?.push(...invalid);
      return undefined;
    }
    if (forwarded === 0 && (x.json?.length ?? 0) === 0 && invalid.length > 0) return 'refused';
    x.json?.push(...invalid);
    // Every request refused (answered), or only notifications and responses: accepted.
    if (x.json && x.json.length > 0) {
      this.finish(x);
      return undefined;
    }
    return 'accepted';
  }

  /** End an exchange: close its event stream, or send what it gathered as one JSON body (an array for a batch). */
  finish(x: Exchange): void {
    if (x.res.writableEnded) return;
    if (x.json === undefined) {
      x.res.end();
      return;
    }
    const body = x.batch || x.json.length !== 1 ? `[${x.json.join(',')}]` : x.json[0]!;
    if (!x.res.headersSent)
      x.res
        .writeHead(x.status ?? 200, { 'content-type': 'application/json', 'mcp-session-id': this.sid })
        .end(body);
  }

  /** The server is gone: every open exchange gets an end, and so does the GET stream. */
  endAll(): void {
    for (const x of new Set(this.#waiting.values())) this.finish(x);
    this.#waiting.clear();
    this.openStream?.end();
  }

  #latest(): Exchange | undefined {
    let last: Exchange | undefined;
    for (const x of this.#waiting.values()) last = x;
    return last;
  }

  /** Turn an exchange into an event stream (once), flushing what it had gathered for a JSON body. */
  #toStream(x: Exchange): void {
    if (x.json === undefined) return;
    openSse(x.res, this.sid);
    for (const t of x.json) this.valve.write(x.res, sseEvent(t));
    x.json = undefined;
  }

  /**
   * The exchange a server message belongs to, if any: its answer's request, its subscription's
   * (`subscriptions/listen`, 2026-07-28: the listen request's id in `_meta`; none once that stream is
   * gone), its progress token's, or the latest open one.
   */
  #exchangeFor(m: unknown, latest: boolean): { x: Exchange; answers?: string } | undefined {
    if (!isObject(m)) return undefined;
    if (isResponse(m)) {
      const k = idKey(m.id);
      const x = this.#waiting.get(k);
      return x && { x, answers: k };
    }
    const meta = isObject(m.params) && isObject(m.params._meta) ? m.params._meta : undefined;
    const subscription = meta?.[META.subscriptionId];
    if (typeof subscription === 'string' || typeof subscription === 'number') {
      const x = this.#waiting.get(idKey(subscription));
      return x && { x };
    }
    const token = isObject(m.params) ? m.params.progressToken : undefined;
    if (token !== undefined) {
      const x = this.#waiting.get(this.#progress.get(idKey(token)) ?? '');
      if (x) return { x };
    }
    if (!latest) return undefined;
    const last = this.#latest();
    return last && { x: last };
  }

  /** One of the exchange's requests has its answer; the exchange ends with its last. */
  #answered(x: Exchange, k: string): void {
    const left = (x.ids.get(k) ?? 1) - 1;
    if (left > 0) x.ids.set(k, left);
    else {
      this.#waiting.delete(k);
      x.ids.delete(k);
      for (const [t, key] of this.#progress) if (key === k) this.#progress.delete(t);
    }
    if (x.ids.size === 0) this.finish(x);
  }
}
