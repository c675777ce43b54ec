import { IntentGuardError } from '../errors.js';

/** Default mark: messages of one direction shown to the monitor and not yet delivered. */
const DEFAULT_HIGH_WATER = 256;

/**
 * A bounded hand-off for a wire that cannot be paused (an SDK `Transport`: it delivers each message by
 * calling `onmessage`, and has no way to stop): back-pressure by counting messages instead of reading
 * less. At most `highWater` jobs of one direction run at once (a job: decide one message and hand it
 * on); {@link run} queues the rest in order and lets each start as one before it finishes, and once
 * `maxWaiting` wait already, refuses the next with `ERR_TAP_BACKLOG` instead of holding it. The caller
 * of a local `send` therefore waits for the monitor to drain below the mark (its promise settles
 * later), and a caller that does not wait is refused rather than buffered for without bound.
 * @example const out = new Handoff(); send = (m) => out.run(() => decideAndSend(m));
 */
export class Handoff {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly highWater = DEFAULT_HIGH_WATER,
    private readonly maxWaiting = 4 * DEFAULT_HIGH_WATER,
  ) {}

  /** Jobs started and not finished. */
  get running(): number {
    return this.#running;
  }

  /** Jobs queued behind the mark. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Run `job` now when fewer than the mark run and none waits; otherwise once the ones before it have
   * made room (in the order they came). Rejects with `ERR_TAP_BACKLOG`, and never runs it, when
   * `maxWaiting` jobs wait already.
   */
  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#waiting.length === 0 && this.#running < this.highWater) return this.#start(job);
    if (this.#waiting.length >= this.maxWaiting)
      return Promise.reject(backlog(this.highWater, this.maxWaiting));
    return new Promise<T>((resolve, reject) => {
      // Started from #finish, synchronously and in order: nothing queued later can overtake it.
      this.#waiting.push(() => void this.#start(job).then(resolve, reject));
    });
  }

  #start<T>(job: () => Promise<T>): Promise<T> {
    this.#running++;
    let p: Promise<T>;
    try {
      p = job();
    } catch (e) {
      this.#finish();
      return Promise.reject(e as Error);
    }
    return p.then(
      (v) => {
        this.#finish();
        return v;
      },
      (e: unknown) => {
        this.#finish();
        throw e;
      },
    );
  }

  #finish(): void {
    this.#running--;
    while (this.#waiting.length > 0 && this.#running < this.highWater) this.#waiting.shift()!();
  }
}

/** The error a flood past the bound gets: stable code, the bound in its data. */
export function backlog(highWater: number, maxWaiting: number): IntentGuardError {
  return new IntentGuardError(
    'ERR_TAP_BACKLOG',
    `intentguard: more than ${highWater + maxWaiting} messages wait for a decision on this session`,
    { highWater, maxWaiting },
  );
}
