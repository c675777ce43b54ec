import { OrderedQueue } from './queue.js';
import type { Valve } from './valve.js';

/**
 * One direction of one session as the carrier runs it: frames decided in order ({@link OrderedQueue})
 * and under back-pressure ({@link Valve}): the bytes of a frame count against the valve from the moment
 * it is read until its job (decide, deliver, answer) has run, so a slow decision or a full sink pauses
 * the wire it came from. Every transport hands its frames to a lane instead of pairing the two itself.
 * @example const up = new Lane(new Valve(child.stdout, 's2c'), log); up.carry(bytes, () => relay(frame));
 */
export class Lane {
  readonly #queue: OrderedQueue;

  constructor(
    readonly valve: Valve,
    onError: (error: Error) => void,
  ) {
    this.#queue = new OrderedQueue(onError);
  }

  /** Queue `job` for a frame of `bytes` (0 when nothing of it is held, an oversize frame's head). */
  carry(bytes: number, job: () => unknown): void {
    this.valve.take(bytes);
    void this.#queue.push(async () => {
      try {
        await job();
      } finally {
        this.valve.give(bytes);
      }
    });
  }

  /**
   * Carry a frame whose job may finish at once: while nothing is queued the job runs now, and when it
   * returns anything but a promise (the decision was immediate) the frame is done before this returns,
   * with no promise and no turn of the microtask queue; otherwise it is queued as {@link carry} does.
   * A job run now that throws is reported as a queued one's failure is. The per-message fast path of a
   * wire whose reads are events (stdio's pipes): order holds, because a job runs now only when none is
   * queued or running, and a job still running (it returned a promise) is the tail every later frame
   * waits behind.
   */
  pass(bytes: number, job: () => unknown): void {
    if (!this.#queue.idle) return this.carry(bytes, job);
    this.valve.take(bytes);
    const settled = this.#queue.run(job);
    if (settled === undefined) this.valve.give(bytes);
    else void settled.then(() => this.valve.give(bytes));
  }

  /** Queue `job` behind every frame so far, outside the valve's count; settles once it has run. */
  push(job: () => unknown): Promise<void> {
    return this.#queue.push(job);
  }

  /** Settles once every frame queued so far has been carried. */
  drained(): Promise<void> {
    return this.#queue.drained();
  }
}
