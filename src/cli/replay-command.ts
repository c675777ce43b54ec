import { createMonitor } from '../monitor/create.js';
import type { Policy } from '../policy/types.js';
import { intentPolicy } from '../policy/intent-policy.js';
import { readLines } from '../replay/bundle.js';
import { createReplayClock, readBundles, replayBundle, type ReplayResult } from '../replay/replay.js';
import { progress } from './progress.js';

export interface ReplayCommandOptions {
  readonly json?: boolean;
  /** Extra policies (the rules engine) to run beside the built-in intent policy. */
  readonly policies?: readonly Policy<any>[];
  /** With a rule pack the pack decides on tools outside the intent (IG-INT-001/002). */
  readonly pack?: boolean;
  readonly out?: NodeJS.WritableStream;
  readonly err?: NodeJS.WritableStream;
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const line of readLines(path)) if (line.trim() !== '') n++;
  return n;
}

const summaryLine = (r: ReplayResult): string => {
  const rules = [...new Set(r.findings.map((f) => `${f.rule}(${f.action}${f.call === null ? '' : `@${f.call}`})`))].join(' ');
  return `${r.outcome.padEnd(11)} stopped_at_call=${String(r.stopped_at_call).padEnd(4)} ${r.id}${rules ? `\n    ${rules}` : ''}`;
};

/**
 * `intentguard replay FILE`: feed every recorded session through a fresh monitor and print one
 * result per session. Returns the process exit code (1 when any line was malformed).
 */
export async function replayCommand(file: string, options: ReplayCommandOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const clock = createReplayClock();
  const monitor = createMonitor({ policy: [intentPolicy(options.pack ? { outsideTools: 'allow' } : {}), ...(options.policies ?? [])], clock: clock.now });
  const bar = progress(process.stderr.isTTY ? await countLines(file) : undefined, 'replaying');
  const tally = new Map<string, number>();
  let bad = 0;
  try {
    for await (const item of readBundles(file)) {
      bar.tick();
      if ('error' in item) {
        bad++;
        err.write(`${file}:${item.line}: ${item.error.code}: ${item.error.message}\n`);
        continue;
      }
      const result = await replayBundle(monitor, item, { clock });
      tally.set(result.outcome, (tally.get(result.outcome) ?? 0) + 1);
      out.write(options.json ? `${JSON.stringify(result)}\n` : `${summaryLine(result)}\n`);
    }
  } finally {
    bar.done();
    monitor.close();
  }
  if (!options.json) {
    out.write(`\n${[...tally].map(([k, v]) => `${k}: ${v}`).join(', ') || 'no sessions'}${bad ? `, malformed lines: ${bad}` : ''}\n`);
  }
  return bad > 0 ? 1 : 0;
}
