import { channel } from 'node:diagnostics_channel';

/**
 * The carrier's contract with a wire, for back-pressure: what a transport hands the carrier so that
 * a slow peer slows the other one down instead of being buffered for without bound. Node's readable
 * streams (sockets, pipes, HTTP messages, a child's stdout) and `ws` sockets fit it as they are.
 */
export interface WireSource {
  /**
   * Stop reading from the wire. The transport's own buffer and then the kernel's fill up, and the
   * peer's writes block or report a full buffer (TCP's window, a pipe's capacity): the peer slows down.
   * May be called while paused already.
   */
  pause(): unknown;
  /** Read again (may be called while reading already). */
  resume(): unknown;
}

/** Where the carrier writes one direction's messages to (a socket, a pipe, an HTTP response). */
export interface WireSink {
  /**
   * Queue `chunk` for the wire. False when the sink holds more than its high-water mark afterwards:
   * the chunk is still kept, but the writer should wait for `drain` before writing more.
   */
  write(chunk: string): boolean;
  /** Register a one-time listener: `drain` once the sink has room again, `close` once it is gone. */
  once(event: 'drain' | 'close', listener: () => void): unknown;
  /** Remove a listener registered with {@link once} (the other event came first). */
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/** Default mark: bytes of one direction held in flight (read, not yet handed on) before reading pauses. */
export const DEFAULT_HIGH_WATER_BYTES = 1 << 20;

/** What the `intentguard:carrier:valve` diagnostics channel publishes when a valve pauses or resumes. */
export interface ValveEvent {
  /** Which wire and direction (`stdio c2s`, `http sse`, …). */
  readonly label: string;
  readonly state: 'pause' | 'resume';
  /** Bytes read from the source and not yet handed on (queued for a decision). */
  readonly buffered: number;
  /** Sinks full now (waiting for their `drain`). */
  readonly blocked: number;
}

/**
 * Operators (and tests) see back-pressure through Node's diagnostics channel, with no cost while
 * nobody subscribes: `diagnostics_channel.subscribe('intentguard:carrier:valve', (e) => …)`.
 */
export const VALVE_CHANNEL = 'intentguard:carrier:valve';
const events = channel(VALVE_CHANNEL);

/**
 * Back-pressure for one direction of one session, written once for every transport: the source it
 * reads is paused while either
 * - more than `highWater` bytes read from it are still on their way (queued behind a decision: a held
 *   call, a slow policy), counted with {@link take} and {@link give}; or
 * - a sink it wrote to is full ({@link write} returned false for it), until that sink drains or closes;
 *
 * and resumed once both have cleared (the bytes down to half the mark, every sink drained). What is
 * buffered per direction is then bounded by the mark plus what one read and one write hand over,
 * whatever the peers' speeds, instead of growing with what a fast peer sends a slow one. A sink that
 * confirms each write by callback instead (`ws.send(data, cb)`) is counted with `take` before the send
 * and `give` in the callback.
 * @example
 * const up = new Valve(child.stdout, 's2c'); // then, per frame:
 * up.take(bytes); queue.push(async () => { try { up.write(output, await decide(frame)); } finally { up.give(bytes); } });
 */
export class Valve {
  #buffered = 0;
  /** Sinks waited on now (one wait per sink, however many writes found it full). */
  readonly #waiting = new Set<WireSink>();
  #paused = false;
  readonly #low: number;

  constructor(
    private readonly source: WireSource,
    private readonly label: string,
    private readonly highWater: number = DEFAULT_HIGH_WATER_BYTES,
  ) {
    this.#low = Math.floor(highWater / 2);
  }

  /** Bytes taken and not given back yet. */
  get buffered(): number {
    return this.#buffered;
  }

  /** True while the source is paused by this valve. */
  get paused(): boolean {
    return this.#paused;
  }

  /** `bytes` were read from the source and are on their way (pauses the source above the mark). */
  take(bytes: number): void {
    this.#buffered += bytes;
    if (!this.#paused && this.#buffered > this.highWater) this.#pause();
  }

  /** Those bytes were handed on (written to a sink, answered, or dropped). */
  give(bytes: number): void {
    this.#buffered = Math.max(0, this.#buffered - bytes);
    this.#maybeResume();
  }

  /**
   * Write `chunk` to `sink`; when the sink reports itself full, the source stays paused until it
   * drains (or closes). Returns what the sink's write returned.
   */
  write(sink: WireSink, chunk: string): boolean {
    const ok = sink.write(chunk);
    if (!ok) this.blockOn(sink);
    return ok;
  }

  /** `sink` is full: keep the source paused until it emits `drain` or `close`. */
  blockOn(sink: WireSink): void {
    if (this.#waiting.has(sink)) return;
    this.#waiting.add(sink);
    if (!this.#paused) this.#pause();
    const clear = () => {
      sink.off('drain', clear);
      sink.off('close', clear);
      this.#waiting.delete(sink);
      this.#maybeResume();
    };
    sink.once('drain', clear);
    sink.once('close', clear);
  }

  #pause(): void {
    this.#paused = true;
    this.source.pause();
    this.#publish('pause');
  }

  #maybeResume(): void {
    if (!this.#paused || this.#waiting.size > 0 || this.#buffered > this.#low) return;
    this.#paused = false;
    this.source.resume();
    this.#publish('resume');
  }

  #publish(state: ValveEvent['state']): void {
    if (events.hasSubscribers)
      events.publish({
        label: this.label,
        state,
        buffered: this.#buffered,
        blocked: this.#waiting.size,
      } satisfies ValveEvent);
  }
}
