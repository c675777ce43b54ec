import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { Asker } from '../../carrier/asker.js';
import { Lane } from '../../carrier/lane.js';
import { LineFramer } from '../../carrier/lines.js';
import { endOwing, relayFrame, relayOversize } from '../../carrier/relay.js';
import { serverEnv } from '../../carrier/server-env.js';
import { OrderedQueue } from '../../carrier/queue.js';
import { Valve } from '../../carrier/valve.js';
import { errorAnswer } from '../../jsonrpc/message.js';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import type { Monitor } from '../../monitor/create.js';
import type { SessionHandle } from '../../monitor/handle.js';
import type { EraGate } from '../../mrtr/gate.js';
import { Exchanges } from './bridge-exchanges.js';

/** What a bridged session needs of its bridge. */
export interface BridgeServer {
  readonly monitor: Monitor;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  /** The runtime's era gate (MCP 2026-07-28 beside 2025-11-25): every message is seen through it. */
  readonly era?: EraGate;
}

type Child = ChildProcessByStdio<Writable, Readable, null>;

/**
 * One MCP session of the stdio bridge: its own server process, carried over Streamable HTTP. Opening
 * it spawns the server, opens the monitor session and attaches the carrier to it, and carries the
 * server's stdout (framed by lines, each frame decided in order under the session's valve) to the
 * exchanges. `onEnd` runs once the monitor session has ended (the process is stopped then).
 */
export class BridgeSession {
  readonly id = randomUUID();
  readonly handle: SessionHandle;
  readonly sub: string | undefined;
  lastSeen = Date.now();
  /** Where its messages for the client go: the POSTs waiting for answers, the GET stream. */
  readonly exchanges: Exchanges;
  /** intentguard's own prompts to the client (approval elicitations) and their answers. */
  readonly asker: Asker;
  /** The client's messages, decided in order (a POST's job awaits the server's stdin, see {@link toServer}). */
  readonly c2s: OrderedQueue;
  /** The server's messages: in order, and its stdout not read while a client stream is full or decisions back up. */
  readonly #s2c: Lane;
  readonly #child: Child;
  #exited = false;

  constructor(
    private readonly o: BridgeServer,
    identity: Identity | undefined,
    intent: Intent,
    onEnd: (s: BridgeSession) => void,
  ) {
    this.#child = spawn(o.command, [...o.args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: serverEnv(o.env ?? process.env),
    });
    this.handle = o.monitor.open({
      intent,
      ...(identity && { identity }),
      transport: 'http',
      transportSessionId: this.id,
    });
    this.sub = identity?.sub;
    this.#s2c = new Lane(new Valve(this.#child.stdout, 'http-stdio s2c'), (e) =>
      o.log(`relay error (s2c): ${e.message}`),
    );
    this.exchanges = new Exchanges(this.id, this.#s2c.valve);
    this.asker = new Asker(this.handle, (m) => this.exchanges.prompt(m));
    this.c2s = new OrderedQueue((e) => o.log(`relay error (c2s): ${e.message}`));
    this.#attach();
    this.#carryServer();
    void this.handle.whenEnded().then(() => {
      onEnd(this);
      if (!this.#exited) this.#child.kill('SIGTERM');
    });
  }

  /** The era gate its messages are seen through (none: the 2025 era alone). */
  get era(): EraGate | undefined {
    return this.o.era;
  }

  /** The process is gone (or never started). */
  get exited(): boolean {
    return this.#exited;
  }

  /** Write a line to the server; resolves once the pipe has room again (or the server is gone). */
  toServer(text: string): Promise<void> {
    return this.#write(text) ? Promise.resolve() : drained(this.#child, () => this.#exited);
  }

  /** The proxy is shutting down: answer what the client is still owed, end every open exchange, close. */
  async shutDown(message: string): Promise<void> {
    await endOwing(this.handle, message, 'proxy shut down', (a) => this.#toClient(a, JSON.stringify(a)));
    this.exchanges.endAll();
  }

  /** Write a line to the server; false when the pipe is full. */
  #write(text: string): boolean {
    return this.#exited || !this.#child.stdin.writable || this.#child.stdin.write(`${text}\n`);
  }

  /** Deliver to the client; a server request with no stream to carry it is answered to the server. */
  #toClient(m: unknown, text: string): void {
    if (this.exchanges.deliver(m, text)) return;
    const { id } = m as { id: string | number };
    const answer = errorAnswer(id, -32603, 'intentguard: the client has no open stream for server requests', {
      code: 'ERR_NO_STREAM',
    });
    void this.handle.record('c2s', answer).then(() => this.#write(JSON.stringify(answer)));
  }

  #attach(): void {
    this.handle.attach({
      deliver: (dir, m) =>
        dir === 'c2s' ? void this.#write(JSON.stringify(m)) : this.#toClient(m, JSON.stringify(m)),
      ask: async (method, params, signal) => {
        if (!this.exchanges.canPrompt) throw new Error('no open request stream to ask the client on');
        return this.asker.ask(method, params, signal);
      },
      close: () => {
        if (!this.#exited) this.#child.kill('SIGTERM');
        this.exchanges.openStream?.end();
      },
    });
  }

  /** The server's stdout, framed by lines: each frame decided in order, then delivered to its exchange. */
  #carryServer(): void {
    const framer = new LineFramer(
      this.o.monitor.options.maxMessageBytes,
      (text, bytes) =>
        this.#s2c.carry(bytes, async () => {
          const r = await relayFrame(this.handle, 's2c', { text, bytes }, undefined, this.o.era);
          for (const a of r.answers) this.#write(JSON.stringify(a));
          // A batch from the server is delivered message by message (each to its own exchange).
          for (const f of r.forward) this.#toClient(JSON.parse(f), f);
        }),
      (head, bytes) =>
        this.#s2c.carry(0, async () => {
          const r = await relayOversize(this.handle, 's2c', head, bytes);
          for (const a of r.answers) this.#write(JSON.stringify(a));
          if (r.forward !== undefined) this.#toClient(JSON.parse(r.forward), r.forward);
        }),
    );
    const child = this.#child;
    child.stdout.on('data', (c: Buffer) => framer.push(c));
    // A write racing the server's death fails with EPIPE: the exit (or spawn error) is handled below.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      this.o.log(`cannot start ${this.o.command}: ${e.message}`);
      this.#gone(framer, `could not be started (${e.message})`);
    });
    child.on('exit', (code, signal) => this.#gone(framer, `exited (${code ?? signal})`));
  }

  /** The process is gone (or never started): answer what it owed, end every open exchange, end the session. */
  #gone(framer: LineFramer, what: string): void {
    if (this.#exited) return;
    this.#exited = true;
    framer.end();
    // Messages already on their way in either direction are decided first, so their requests are owed answers too.
    void Promise.all([this.c2s.drained(), this.#s2c.drained()])
      .then(() =>
        endOwing(
          this.handle,
          `intentguard: the server ${what} before answering`,
          `ended by upstream (${what})`,
          (a) => this.#toClient(a, JSON.stringify(a)),
        ),
      )
      .finally(() => {
        // Whatever is still open gets an end: no client waits for a process that is gone.
        this.exchanges.endAll();
        if (this.handle.status === 'open') this.handle.close('server exited');
      });
  }
}

/** The server has read what it was sent (or is gone): back-pressure for the client's next messages. */
function drained(child: Child, exited: () => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    if (exited()) return resolve();
    const events = [
      [child.stdin, 'drain'],
      [child.stdin, 'close'],
      [child, 'exit'],
      [child, 'error'],
    ] as const;
    const done = () => {
      for (const [emitter, name] of events) emitter.off(name, done);
      resolve();
    };
    for (const [emitter, name] of events) emitter.once(name, done);
  });
}
