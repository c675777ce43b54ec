import type { MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { OrderedQueue } from '../../carrier/queue.js';
import { idOf, isRequest, type RequestId } from '../../jsonrpc/message.js';
import type { Outcome } from '../../model/decision.js';

/**
 * The inbound side of a tap: the remote peer's messages, delivered in arrival order, each after its
 * decision: synchronously while nothing is held, queued behind a held message otherwise. The SDK
 * transport cannot be paused, so the queue is bounded instead: one message more than `bound` waiting
 * calls `overflow` with the ids of the requests among the waiting ones (the tap answers them and ends
 * the session, fail closed); from then on nothing is delivered.
 */
export class Inbound {
  readonly #queue: OrderedQueue;
  /** The messages waiting, as the id of each request among them (undefined for the others). */
  readonly #waiting = new Set<{ id: RequestId | undefined }>();
  #failed = false;

  constructor(
    private readonly apply: (outcome: Outcome, extra?: MessageExtraInfo) => void,
    private readonly bound: number,
    private readonly overflow: (owed: RequestId[]) => void,
    onError: (e: Error) => void,
  ) {
    this.#queue = new OrderedQueue(onError);
  }

  /** True once the bound was passed: nothing more is shown to the monitor or delivered. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Deliver `message`, decided (or being decided), in arrival order. */
  deliver(message: unknown, decided: Outcome | Promise<Outcome>, extra?: MessageExtraInfo): void {
    if (this.#failed) return;
    if (this.#queue.idle && !(decided instanceof Promise)) return this.apply(decided, extra);
    const entry = { id: isRequest(message) ? idOf(message) : undefined };
    this.#waiting.add(entry);
    if (this.#waiting.size > this.bound) {
      this.#failed = true;
      const owed = [...this.#waiting].flatMap((w) => (w.id === undefined ? [] : [w.id]));
      this.#waiting.clear();
      return this.overflow(owed);
    }
    void this.#queue.push(async () => {
      const outcome = await decided;
      this.#waiting.delete(entry);
      if (!this.#failed) this.apply(outcome, extra);
    });
  }
}
