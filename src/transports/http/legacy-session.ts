import type { EraGate } from '../../mrtr/gate.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventSourceMessage } from 'eventsource-parser';
import { Asker } from '../../carrier/asker.js';
import { Lane } from '../../carrier/lane.js';
import { endOwing } from '../../carrier/relay.js';
import { Valve } from '../../carrier/valve.js';
import type { SessionHandle } from '../../monitor/handle.js';
import type { LegacyUpstream } from './legacy-upstream.js';
import { readSse } from './sse-read.js';

/** What a legacy session needs of its proxy. */
export interface LegacyProxy {
  readonly upstream: LegacyUpstream;
  /** The upstream SSE endpoint (its `endpoint` event is resolved against it). */
  readonly url: URL;
  /** Where clients POST messages. */
  readonly messagesPath: string;
  readonly maxMessageBytes: number;
  /** The era gate: each message decided per request (a 2026-07-28 request gets the specification's answer). */
  readonly era?: EraGate;
}

/** One client stream of the legacy HTTP+SSE transport, carried to one upstream stream. */
export class LegacySession {
  /** intentguard's own prompts (approval elicitations), sent on the stream; answers arrive as POSTs. */
  readonly asker: Asker;
  readonly #endpoint: Promise<URL>;
  #resolveEndpoint!: (endpoint: URL) => void;
  /** Back-pressure: the upstream stream is not read while the client's is full or decisions back up. */
  readonly #lane: Lane;

  /** The era gate every message of this session goes through, when the proxy has one. */
  get era(): EraGate | undefined {
    return this.p.era;
  }

  constructor(
    private readonly p: LegacyProxy,
    readonly id: string,
    readonly handle: SessionHandle,
    readonly sub: string | undefined,
    private readonly res: ServerResponse,
    private readonly up: IncomingMessage,
    /** The client's Host header, passed upstream. */
    private readonly host: string | undefined,
  ) {
    this.#endpoint = new Promise<URL>((r) => (this.#resolveEndpoint = r));
    // A job that throws ends the session (fail closed): nothing after it would be decided in order.
    this.#lane = new Lane(new Valve(up, 'sse stream'), (e) => handle.close(`relay error: ${e.message}`));
    // A server speaks to its client on the stream: so do intentguard's approval prompts.
    this.asker = new Asker(handle, (m) => this.write(m));
    handle.attach({
      deliver: (dir, m) => {
        if (dir === 's2c') return this.write(m);
        // An answer to a server-initiated request: post it upstream.
        return this.post(JSON.stringify(m), host).then(
          () => undefined,
          () => undefined,
        );
      },
      close: () => {
        up.destroy();
        if (!res.writableEnded) res.end();
      },
      ask: (method, params, signal) => this.asker.ask(method, params, signal),
    });
  }

  /** A message (or its text) to the client, as one `message` event, under back-pressure. */
  write(m: unknown): void {
    // A data value with line breaks is sent as several data lines (the client joins them back).
    const text = typeof m === 'string' ? m.replace(/\r?\n/g, '\ndata: ') : JSON.stringify(m);
    if (!this.res.writableEnded) this.#lane.valve.write(this.res, `event: message\ndata: ${text}\n\n`);
  }

  /** POST to the endpoint upstream named (once it has); resolves with the upstream status. */
  post(text: string, host: string | undefined, trace?: Record<string, string>): Promise<number> {
    return this.#endpoint.then((endpoint) => this.p.upstream.post(endpoint, text, host, trace));
  }

  /**
   * Relay the upstream stream into the client's, one event at a time, in order, under back-pressure;
   * when it ends, what the server still owed is answered with errors and the client's stream ends.
   */
  relay(): void {
    readSse(this.up, {
      lane: this.#lane,
      maxBytes: this.p.maxMessageBytes,
      onEvent: (ev) => this.#onEvent(ev),
      onEnd: async () => {
        await endOwing(
          this.handle,
          'intentguard: the server closed its stream before answering',
          'ended by upstream (SSE stream closed)',
          (a) => this.write(a),
        );
        if (!this.res.writableEnded) this.res.end();
      },
    });
  }

  /** One upstream event, decided: the endpoint event rewritten to intentguard's, a message delivered or not. */
  async #onEvent(ev: EventSourceMessage): Promise<void> {
    if (ev.event === 'endpoint') {
      let endpoint: URL;
      try {
        endpoint = new URL(ev.data.trim(), this.p.url);
      } catch {
        this.handle.close('ended by upstream (invalid endpoint event)');
        return;
      }
      this.#resolveEndpoint(endpoint);
      if (!this.res.writableEnded)
        this.#lane.valve.write(
          this.res,
          `event: endpoint\ndata: ${this.p.messagesPath}?sessionId=${this.id}\n\n`,
        );
      return;
    }
    if (ev.event !== undefined && ev.event !== 'message') return;
    let m: unknown;
    try {
      m = JSON.parse(ev.data);
    } catch {
      // Seen (and refused as invalid), never delivered.
      await this.handle.observe('s2c', ev.data);
      return;
    }
    const seen = await this.handle.observe('s2c', m, Buffer.byteLength(ev.data), ev.data);
    const out = this.p.era ? await this.p.era.back(this.handle, seen) : seen;
    if (out.answer !== undefined)
      void this.post(JSON.stringify(out.answer), this.host).catch(() => undefined);
    if (out.forward !== undefined) this.write(out.forward === m ? ev.data : out.forward);
  }
}
