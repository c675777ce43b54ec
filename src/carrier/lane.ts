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

  /** Queue `job` behind every frame so far, outside the valve's count; settles once it has run. */
  push(job: () => unknown): Promise<void> {
    return this.#queue.push(job);
  }

  /** Settles once every frame queued so far has been carried. */
  drained(): Promise<void> {
    return this.#queue.drained();
  }
}
