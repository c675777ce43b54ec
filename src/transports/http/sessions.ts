import type { ServerResponse } from 'node:http';
import { Asker } from '../../carrier/asker.js';
import { endOwing } from '../../carrier/relay.js';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import type { Monitor } from '../../monitor/create.js';
import type { SessionHandle } from '../../monitor/handle.js';
import type { EraGate } from '../../mrtr/gate.js';
import { openSse, sseEvent } from './sse-format.js';
import type { Upstream } from './upstream.js';

/** One MCP session carried over Streamable HTTP to an HTTP upstream. */
export interface ProxySession {
  readonly handle: SessionHandle;
  /** The runtime's era gate (version pinning, task owners, MRTR), when the proxy has one. */
  readonly era?: EraGate;
  /** When a request last touched it (the idle sweeper closes sessions that vanished without DELETE). */
  lastSeen: number;
  /** The agent identity that opened it: no other may use it. */
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

/** The key a request id is waited on by (a string id and a number id never collide). */
export const idKey = (id: unknown) => `${typeof id}:${String(id)}`;

/**
 * The sessions of one Streamable HTTP proxy: opened on an `initialize`, kept under the client's
 * Mcp-Session-Id once upstream's first answer names it, removed when the monitor session ends.
 */
export class SessionTable {
  readonly #byId = new Map<string, ProxySession>();
  #open = 0;

  constructor(
    private readonly monitor: Monitor,
    private readonly upstream: Upstream,
    /** The era gate every message of these sessions is seen through (src/mrtr/tap-hook.ts). */
    private readonly era?: EraGate,
  ) {}

  /** Sessions open now, including ones still waiting for upstream's session id. */
  get open(): number {
    return this.#open;
  }

  get(sid: string): ProxySession | undefined {
    return this.#byId.get(sid);
  }

  /** Called with each session once named (a fleet writes down whose state it is, src/fleet/stateful.ts). */
  onNamed: ((s: ProxySession) => void) | undefined;

  /** The session's first exchange gave it its client-facing id: keep it under that id. */
  name(s: ProxySession, sid: string): void {
    s.sid = sid;
    this.#byId.set(sid, s);
    this.onNamed?.(s);
  }

  /** Open a monitor session and attach this carrier to it; `release` gives back its quota at the end. */
  openSession(identity: Identity | undefined, intent: Intent, release: () => void): ProxySession {
    const handle = this.monitor.open({ intent, ...(identity && { identity }), transport: 'http' });
    return this.#carry(handle, identity?.sub, release);
  }

  /**
   * Carry here a session another instance of a fleet served, rebuilt from its record (src/fleet/):
   * under the client's `sid`, sent upstream with the upstream's own session id, as it was there.
   */
  continueSession(handle: SessionHandle, sid: string, upstreamSid: string | undefined): ProxySession {
    const s = this.#carry(handle, handle.state().identity?.sub, () => undefined);
    if (upstreamSid !== undefined) s.upstreamSid = upstreamSid;
    s.sid = sid;
    this.#byId.set(sid, s);
    return s;
  }

  #carry(handle: SessionHandle, sub: string | undefined, release: () => void): ProxySession {
    this.#open++;
    const s: ProxySession = {
      handle,
      ...(this.era && { era: this.era }),
      sub,
      waiters: new Map(),
      upstreamRequests: new Set(),
      lastSeen: Date.now(),
      // Prompts go on the stream their ask chose (see ask below), never on a default one.
      asker: new Asker(handle, () => {
        throw new Error('no open request stream to ask the client on');
      }),
    };
    handle.attach({
      deliver: (dir, m) => (dir === 's2c' ? this.#toClient(s, m) : this.upstream.post(s, m)),
      // An approval prompt (elicitation) to the client: sent on the stream of the POST that carries
      // the held call (Streamable HTTP lets a server send requests before its response there); the
      // client answers with a new POST, which is taken there and never forwarded.
      ask: async (method, params, signal) => {
        const res = s.promptOn;
        if (!res || res.writableEnded) throw new Error('no open request stream to ask the client on');
        return s.asker.ask(method, params, signal, (prompt) => {
          openSse(res, s.sid);
          res.write(sseEvent(prompt));
        });
      },
      close: () => {
        this.#cut(s);
        if (s.upstreamSid) this.upstream.end(s);
      },
    });
    void handle.whenEnded().then(() => {
      this.#open--;
      release();
      if (s.sid && this.#byId.get(s.sid) === s) this.#byId.delete(s.sid);
    });
    return s;
  }

  /** Its upstream exchanges cut and its GET stream ended. */
  #cut(s: ProxySession): void {
    for (const r of s.upstreamRequests) r.destroy();
    if (s.stream && !s.stream.writableEnded) s.stream.end();
  }

  /** A message for the client: to the exchange waiting for its id, else the GET stream, else nowhere. */
  #toClient(s: ProxySession, m: unknown): void {
    const w = s.waiters.get(idKey((m as { id?: unknown }).id));
    if (w) return w(m);
    if (s.stream && !s.stream.writableEnded) s.stream.write(`data: ${JSON.stringify(m)}\n\n`);
  }

  /** Close every session no request has touched since `cutoff` and none is waiting on. */
  sweep(cutoff: number): void {
    for (const s of this.#byId.values())
      if (s.lastSeen < cutoff && s.waiters.size === 0) s.handle.close('idle timeout');
  }

  /** Close every session, first answering each client request still owed (`message`, ERR_SESSION_CLOSED). */
  async closeAll(message: string, reason: string): Promise<void> {
    await Promise.all(
      [...this.#byId.values()].map(async (s) => {
        await endOwing(s.handle, message, reason, (a) => this.#toClient(s, a));
        // Upstream's session is left to end on its own: in a fleet another instance may carry it on.
        this.#cut(s);
      }),
    );
  }
}
