// Start-up: `intentguard --help`, and a stdio proxy answering its first message, as ratios to
// `node -e 0` measured in the same run (targets: ≤ 3× and ≤ 6×). `npm run bench -- startup`.
// Runs bin/intentguard.js as a user would: the compiled CLI when dist/ is up to date (`npm run build`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, printTable } from './lib.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'intentguard.js');
const rawServer = join(root, 'test', 'fixtures', 'raw-server.mjs');
const RUNS = 7;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeExit(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t;
}

/** From spawn to the answer to `initialize` arriving on stdout (the first message a client sends). */
function timeFirstAnswer(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    child.on('error', reject);
    child.stdout.once('data', () => {
      const ms = performance.now() - t;
      child.stdin.end();
      child.once('exit', () => resolve(ms));
    });
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } })}\n`,
    );
  });
}

export async function benchStartup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'intentguard-bench-startup-'));
  try {
    const intent = join(dir, 'intent.yaml');
    writeFileSync(intent, 'purpose: bench\ntools: [echo]\n');
    let built = false;
    try {
      built = statSync(join(root, 'dist', 'cli', 'main.js')).isFile();
    } catch {
      /* not built */
    }
    const proxy = [
      bin,
      'stdio',
      '--intent',
      intent,
      '--db',
      join(dir, 'bench.db'),
      '--',
      process.execPath,
      rawServer,
    ];
    // BENCH_STARTUP_ALT=<root of another build (bin/, dist/, rules/)>: its rows beside this one's, e.g.
    // the package installed from the packed tarball (<project>/node_modules/intentguard).
    const alt = process.env.BENCH_STARTUP_ALT;
    const altBin = alt && join(alt, 'bin', 'intentguard.js');
    const altProxy = altBin && [altBin, ...proxy.slice(1)];
    const node0: number[] = [];
    const help: number[] = [];
    const server: number[] = [];
    const ready: number[] = [];
    const altHelp: number[] = [];
    const altReady: number[] = [];
    // Interleaved, so a change in machine load hits every row alike.
    for (let i = 0; i < RUNS; i++) {
      node0.push(timeExit(['-e', '0']));
      help.push(timeExit([bin, '--help']));
      server.push(await timeFirstAnswer([rawServer]));
      ready.push(await timeFirstAnswer(proxy));
      if (altBin) altHelp.push(timeExit([altBin, '--help']));
      if (altProxy) altReady.push(await timeFirstAnswer(altProxy));
    }
    const base = median(node0);
    const row = (label: string, xs: number[], target: string) => ({
      measure: label,
      'median ms': fmt(median(xs), 0),
      'x node -e 0': fmt(median(xs) / base, 2),
      target,
    });
    printTable(
      `start-up (median of ${RUNS}; ${built ? 'compiled CLI if dist/ is up to date' : 'dist/ missing: sources through tsx — run npm run build'})`,
      [
        row('node -e 0', node0, ''),
        row('intentguard --help', help, '≤ 3×'),
        row('a bare stdio server answers initialize', server, ''),
        row('intentguard stdio proxy answers initialize', ready, '≤ 6×'),
        ...(altProxy
          ? [row(`--help, ${alt}`, altHelp, '≤ 3×'), row(`stdio proxy, ${alt}`, altReady, '≤ 6×')]
          : []),
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
