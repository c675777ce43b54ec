import { Worker } from 'node:worker_threads';

/**
 * Start a worker thread from a module next to `from` (pass `import.meta.url`). The compiled `.js` runs
 * as is; from the TypeScript sources (tests, development) the worker loads it through tsx, which a
 * worker does not inherit from its parent on Node 20.
 */
export function startWorker(from: string, name: string, workerData: unknown): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, from), { workerData });
  const boot = `const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((m) => m.register()).then(() => import(workerData.entry));`;
  return new Worker(boot, {
    eval: true,
    workerData: {
      ...(workerData as object),
      tsx: import.meta.resolve('tsx/esm/api'),
      entry: new URL(`./${name}.ts`, from).href,
    },
  });
}
