// A replay worker: builds the policies from plain options and replays the jobs it is sent, one at a
// time, answering each with its outcome.
import { parentPort, workerData } from 'node:worker_threads';
import { createReplayer, type JobOutcome, type ReplayJob } from './jobs.js';
import { replayPolicies, type ReplayPolicyOptions } from './policies.js';

const port = parentPort!;
const replayer = createReplayer(replayPolicies(workerData as ReplayPolicyOptions));
let chain = Promise.resolve();
port.on('message', (m: { id: number; job: ReplayJob } | { close: true }) => {
  if ('close' in m) {
    void chain.then(() => {
      replayer.close();
      port.close();
    });
    return;
  }
  // One job at a time: the replay clock follows each session's recorded times.
  chain = chain.then(async () => {
    let out: JobOutcome;
    try {
      out = await replayer.run(m.job);
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      out = { kind: 'error', lineNo: m.job.kind === 'line' ? m.job.lineNo : 0, code: typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_REPLAY', message: (e as Error).message };
    }
    port.postMessage({ id: m.id, out });
  });
});
