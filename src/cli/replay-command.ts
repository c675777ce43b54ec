import { numberedLines, readLines } from '../store/bundle.js';
import type { ReplayJob } from '../replay/jobs.js';
import { createReplayPool, replayInOrder, resolveJobs } from '../replay/pool.js';
import type { ReplayResult } from '../replay/replay.js';
import { progress } from './progress.js';
import type { Visibility } from '../visibility/visibility.js';

export interface ReplayCommandOptions {
  readonly json?: boolean;
  /** Site rule directories loaded after the shipped pack. */
  readonly rules?: readonly string[];
  /** With the rule pack (default true), or only the built-in intent policy. */
  readonly pack?: boolean;
  /** `approved`: replay as behind a proxy with `--visibility approved`. */
  readonly visibility?: Visibility;
  /** Worker threads to replay on, or `auto` (default 1: this thread; `auto` by the number of lines). */
  readonly jobs?: number | 'auto';
  readonly out?: NodeJS.WritableStream;
  readonly err?: NodeJS.WritableStream;
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const line of readLines(path)) if (line.trim() !== '') n++;
  return n;
}

const summaryLine = (r: ReplayResult): string => {
  const rules = [
    ...new Set(r.findings.map((f) => `${f.rule}(${f.action}${f.call === null ? '' : `@${f.call}`})`)),
  ].join(' ');
  return `${r.outcome.padEnd(11)} stopped_at_call=${String(r.stopped_at_call).padEnd(4)} ${r.id}${rules ? `\n    ${rules}` : ''}`;
};

/**
 * How `replay` prints results, the same for a bundle file and a database: one summary line per session
 * and a tally (text), or one JSON object per session (`--json`).
 */
export function resultPrinter(
  out: NodeJS.WritableStream,
  json: boolean,
): { print(r: ReplayResult): void; finish(bad?: number): void } {
  const tally = new Map<string, number>();
  return {
    print(r) {
      tally.set(r.outcome, (tally.get(r.outcome) ?? 0) + 1);
      out.write(json ? `${JSON.stringify(r)}\n` : `${summaryLine(r)}\n`);
    },
    finish(bad = 0) {
      if (json) return;
      out.write(
        `\n${[...tally].map(([k, v]) => `${k}: ${v}`).join(', ') || 'no sessions'}${bad ? `, malformed lines: ${bad}` : ''}\n`,
      );
    },
  };
}

async function* lineJobs(file: string): AsyncGenerator<ReplayJob> {
  for await (const { line, lineNo } of numberedLines(file)) yield { kind: 'line', line, lineNo };
}

/**
 * `intentguard replay FILE`: feed every recorded session through a fresh monitor session and print
 * one result per session, in file order. Returns the process exit code (1 when any line was malformed).
 */
export async function replayCommand(file: string, options: ReplayCommandOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  // Lines are counted when something needs the number: a progress bar, or `--jobs auto`.
  const lines = process.stderr.isTTY || options.jobs === 'auto' ? await countLines(file) : undefined;
  const pool = createReplayPool({
    jobs: resolveJobs(options.jobs ?? 1, lines ?? 0),
    rules: options.rules ?? [],
    pack: options.pack ?? true,
    ...(options.visibility && { visibility: options.visibility }),
  });
  const bar = progress(process.stderr.isTTY ? lines : undefined, 'replaying');
  const printer = resultPrinter(out, Boolean(options.json));
  let bad = 0;
  try {
    await replayInOrder(pool, lineJobs(file), (o) => {
      bar.tick();
      if (o.kind === 'error') {
        bad++;
        err.write(`${file}:${o.lineNo}: ${o.code}: ${o.message}\n`);
        return;
      }
      printer.print(o.result);
    });
  } finally {
    bar.done();
    await pool.close();
  }
  printer.finish(bad);
  return bad > 0 ? 1 : 0;
}
