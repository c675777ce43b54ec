// `intentguard …` as a raw child process (the repository's bin, as a user runs it), and its stdout read
// line by line as the lines arrive.
import { spawn, type ChildProcessWithoutNullStreams, type SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';

/** `node bin/intentguard.js ARGS`, run from the repository root (the tests' working directory). */
export function spawnCli(
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['bin/intentguard.js', ...args], options) as ChildProcessWithoutNullStreams;
}

/** The complete lines `stream` has sent so far (those `keep` accepts), growing as more arrive. */
export function collectLines(stream: Readable, keep: (line: string) => boolean = () => true): string[] {
  const lines: string[] = [];
  let buf = '';
  stream.on('data', (c: Buffer) => {
    buf += c;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts.filter(keep));
  });
  return lines;
}
