// A replay worker: builds the policies from plain options and replays the jobs it is sent, one at a
// time, answering each with its outcome.
import { parentPort, workerData } from 'node:worker_threads';
import { createReplayer, type JobOutcome, type ReplayJob } from './jobs.js';
import { replayPolicies, type ReplayPolicyOptions } from './policies.js';

const port = parentPort!;
const options = workerData as ReplayPolicyOptions;
const replayer = createReplayer(replayPolicies(options), { visibility: options.visibility });
let chain = Promise.resolve();
// Outcomes are posted in batches: when no job is left queued here, or every 32 (one message per job
// costs about as much as replaying a short session).
let queued = 0;
let outs: { id: number; out: JobOutcome }[] = [];
const flush = () => {
  if (outs.length === 0) return;
  port.postMessage({ outs });
  outs = [];
};
port.on('message', (m: { jobs: { id: number; job: ReplayJob }[] } | { close: true }) => {
  if ('close' in m) {
    void chain.then(() => {
      flush();
      replayer.close();
      port.close();
    });
    return;
  }
  for (const { id, job } of m.jobs) {
    queued++;
    // One job at a time: the replay clock follows each session's recorded times.
    chain = chain.then(async () => {
      let out: JobOutcome;
      try {
        out = await replayer.run(job);
      } catch (e) {
        const code = (e as { code?: unknown })?.code;
        out = {
          kind: 'error',
          lineNo: job.kind === 'line' ? job.lineNo : 0,
          code: typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_REPLAY',
          message: (e as Error).message,
        };
      }
      outs.push({ id, out });
      if (--queued === 0 || outs.length >= 32) flush();
    });
  }
});
