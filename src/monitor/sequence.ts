const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as PromiseLike<unknown> | undefined)?.then === 'function';

/**
 * One session's messages, handled one at a time in arrival order: `step` runs at once when nothing is
 * in flight (the usual case: a synchronous decision, no queue, no promise, no allocation), and a step
 * that returns a promise holds every later message until it settles. Sessions are independent: each
 * has its own sequence, so a slow decision in one never delays another.
 *
 * The monitor's per-message path used to be an RxJS pipeline (`groupBy` → `scan` → an eager
 * `concatMap`); this is the same ordering without a subscriber chain per message (bench/proxy.ts).
 * @example
 * const seq = new Sequence((m) => decide(m), () => dispose(), (e) => failAll(e));
 * seq.push(message);
 */
export class Sequence<T> {
  private readonly queue: T[] = [];
  private waiting = false;
  private ending = false;
  private done = false;

  /**
   * @param step handles one value; a promise it returns holds the sequence until it settles
   * @param finish called once, when the sequence has ended and nothing is left in it (or it is closed)
   * @param fault a step threw or its promise rejected: the sequence stops (steps are expected to catch their own faults)
   */
  constructor(
    private readonly step: (value: T) => void | PromiseLike<void>,
    private readonly finish: () => void,
    private readonly fault: (e: unknown) => void,
  ) {}

  /** Handle `value` after everything pushed before it. Ignored once the sequence is closed. */
  push(value: T): void {
    if (this.done) return;
    if (this.waiting || this.queue.length > 0) {
      this.queue.push(value);
      return;
    }
    this.run(value);
  }

  /** No more values are expected: finish once what is in the sequence has been handled. */
  end(): void {
    this.ending = true;
    if (!this.waiting && this.queue.length === 0) this.stop();
  }

  /** Stop now: queued values are dropped and a step in flight is not followed by another. */
  close(): void {
    this.queue.length = 0;
    this.stop();
  }

  /** True while the sequence can still take values. */
  get open(): boolean {
    return !this.done;
  }

  private run(value: T): void {
    let out: void | PromiseLike<void>;
    try {
      out = this.step(value);
    } catch (e) {
      this.failed(e);
      return;
    }
    if (!isThenable(out)) return;
    this.waiting = true;
    out.then(
      () => {
        this.waiting = false;
        this.drain();
      },
      (e: unknown) => this.failed(e),
    );
  }

  private drain(): void {
    while (!this.waiting && !this.done && this.queue.length > 0) this.run(this.queue.shift()!);
    if (!this.waiting && this.ending && this.queue.length === 0) this.stop();
  }

  private failed(e: unknown): void {
    if (this.done) return;
    this.close();
    this.fault(e);
  }

  private stop(): void {
    if (this.done) return;
    this.done = true;
    this.finish();
  }
}
