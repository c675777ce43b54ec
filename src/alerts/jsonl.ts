import { createWriteStream } from 'node:fs';
import type { Observable, Subscription } from 'rxjs';
import type { Alert } from '../model/decision.js';
import { toOcsf } from './ocsf.js';

/**
 * Write every alert as one OCSF JSON line to a stream (stdout) or a file (appended).
 * @example jsonlSink(monitor.alerts$, process.stdout)
 */
export function jsonlSink(
  alerts$: Observable<Alert>,
  target: NodeJS.WritableStream | string,
): { close(): Promise<void> } {
  const stream = typeof target === 'string' ? createWriteStream(target, { flags: 'a' }) : target;
  const sub: Subscription = alerts$.subscribe((a) => stream.write(`${JSON.stringify(toOcsf(a))}\n`));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        sub.unsubscribe();
        if (typeof target === 'string') stream.end(resolve);
        else resolve();
      }),
  };
}
