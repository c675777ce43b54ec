/**
 * One direction of one session, kept in order: each job starts after every job queued before it has
 * finished, so a message is decided (and delivered) before the next one is looked at. A failing job is
 * reported through `onError` and does not stop the jobs behind it (each message is still decided on
 * its own; none is forwarded without a decision, because forwarding is part of the job).
 *
 * Written once for every transport (the mechanics of rxjs `concatMap`, without the scheduler hops).
 * @example const c2s = new OrderedQueue((e) => log(e.message)); c2s.push(() => relay(frame));
 */
export class OrderedQueue {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(private readonly onError: (error: Error) => void) {}

  /** True when no job is queued or running: a caller may then act synchronously without reordering. */
  get idle(): boolean {
    return this.#pending === 0;
  }

  /** Queue `job` behind every job queued so far; the promise settles when it has run (never rejects). */
  push(job: () => unknown): Promise<void> {
    this.#pending++;
    this.#tail = this.#tail.then(async () => {
      try {
        await job();
      } catch (e) {
        this.onError(e instanceof Error ? e : new Error(String(e)));
      } finally {
        this.#pending--;
      }
    });
    return this.#tail;
  }

  /**
   * Run `job` now when the queue is idle: undefined when it finished synchronously (it returned
   * anything but a promise, or threw: reported through `onError`), else the promise of its end, which
   * every job queued from now on waits behind. Queued behind the others as {@link push} when not idle.
   */
  run(job: () => unknown): Promise<void> | undefined {
    if (this.#pending > 0) return this.push(job);
    this.#pending++;
    let result: unknown;
    try {
      result = job();
    } catch (e) {
      this.#pending--;
      this.onError(e instanceof Error ? e : new Error(String(e)));
      return undefined;
    }
    if (!(result instanceof Promise)) {
      this.#pending--;
      return undefined;
    }
    this.#tail = result.then(
      () => {
        this.#pending--;
      },
      (e: unknown) => {
        this.#pending--;
        this.onError(e instanceof Error ? e : new Error(String(e)));
      },
    );
    return this.#tail;
  }

  /** Settles once every job queued so far has run (jobs queued later are not waited for). */
  drained(): Promise<void> {
    return this.#tail;
  }
}
