import type { OperatorFunction } from 'rxjs';
import { Observable } from '../../lib/rx.js';

const isThenable = <R>(v: unknown): v is PromiseLike<R> =>
  typeof (v as PromiseLike<R> | undefined)?.then === 'function';

/**
 * Like `concatMap`, for projections that usually answer synchronously: a plain value is emitted at
 * once, a promise holds every later value until it settles, so output order always equals input order.
 * No inner Observable is allocated per value (the monitor's per-event hot path). A rejected promise
 * errors the stream; the projection is expected to catch its own faults.
 * @example source$.pipe(concatMapEager((e) => (cheap(e) ? decideNow(e) : decideLater(e))))
 */
export function concatMapEager<T, R>(project: (value: T) => R | PromiseLike<R>): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const queue: T[] = [];
      let waiting = false;
      let sourceDone = false;
      let closed = false;

      /** Project one value; false when the stream errored. */
      const run = (value: T): boolean => {
        let out: R | PromiseLike<R>;
        try {
          out = project(value);
        } catch (e) {
          subscriber.error(e);
          return false;
        }
        if (!isThenable<R>(out)) {
          subscriber.next(out);
          return true;
        }
        waiting = true;
        out.then(
          (r) => {
            if (closed) return;
            waiting = false;
            subscriber.next(r);
            drain();
          },
          (e: unknown) => {
            if (!closed) subscriber.error(e);
          },
        );
        return true;
      };

      const drain = (): void => {
        while (!waiting && !closed && queue.length > 0) {
          if (!run(queue.shift()!)) return;
        }
        if (!waiting && sourceDone && queue.length === 0 && !closed) subscriber.complete();
      };

      const subscription = source.subscribe({
        next: (v) => {
          // Nothing held and nothing queued (the usual case): straight through, no queue.
          if (!waiting && queue.length === 0 && !closed) {
            run(v);
            return;
          }
          queue.push(v);
          if (!waiting) drain();
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          sourceDone = true;
          drain();
        },
      });
      return () => {
        closed = true;
        queue.length = 0;
        subscription.unsubscribe();
      };
    });
}
