/** Small helpers for benchmarks: percentiles over nanosecond samples, table printing. */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A module of the code that runs in production: the compiled `dist/<path>.js` (built by `npm ci`),
 * else the source. For internals the public barrel does not export (the reducer, replay jobs).
 * @example const state = await internal<typeof import('../src/monitor/state.js')>('monitor/state')
 */
export async function internal<T>(path: string): Promise<T> {
  const dist = new URL(`../dist/${path}.js`, import.meta.url);
  return (await import(
    existsSync(dist) ? dist.href : new URL(`../src/${path}.ts`, import.meta.url).href
  )) as T;
}
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Sample {
  readonly label: string;
  readonly opsPerSec: number;
  readonly p50us: number;
  readonly p99us: number;
}

export function summarise(label: string, latenciesNs: number[], elapsedNs: number): Sample {
  const sorted = [...latenciesNs].sort((a, b) => a - b);
  return {
    label,
    opsPerSec: latenciesNs.length / (elapsedNs / 1e9),
    p50us: percentile(sorted, 50) / 1000,
    p99us: percentile(sorted, 99) / 1000,
  };
}

export function printTable(title: string, rows: readonly Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`;
  console.log(line(cols));
  console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(cols.map((c) => String(r[c]))));
}

export const fmt = (n: number, digits = 1): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * The folder a stdio proxy benchmark runs in: an intent approving the trivial server's `noop`, and a
 * site rule folder switching the two rate rules off (thousands of calls a second is exactly what they
 * exist to stop; an operator would override them the same way), so the figures measure the proxy, not
 * a held call. `stdioArgs(...flags)`: node's arguments for `intentguard stdio` in front of the trivial
 * server, from the checkout's `bin/intentguard.js` (or `bin` given).
 */
export function proxyBenchDir(prefix: string): {
  dir: string;
  site: string;
  stdioArgs: (flags: readonly string[], bin?: string) => string[];
  variantArgs: (variant: string) => string[];
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'intent.yaml'), 'purpose: benchmark\ntools: [noop, read_document]\n');
  const site = join(dir, 'site-rules');
  mkdirSync(site);
  for (const id of ['IG-RATE-001', 'IG-RATE-002'])
    writeFileSync(join(site, `${id}.override.yaml`), `override: ${id}\nenabled: false\n`);
  const stdioArgs = (flags: readonly string[], bin = 'bin/intentguard.js') => [
    bin,
    'stdio',
    '--intent',
    join(dir, 'intent.yaml'),
    ...flags,
    '--',
    process.execPath,
    TRIVIAL_SERVER,
    'stdio',
  ];
  // The profiling helpers' stdio paths by name: a relay fixture (`null`, `parse`), or `intentguard stdio`
  // with the pack and recording (`pack`), the pack alone (`pack-norec`) or the intent policy alone.
  const variantArgs = (v: string): string[] =>
    v === 'null' || v === 'parse'
      ? [`bench/fixtures/${v}-relay.mjs`, process.execPath, TRIVIAL_SERVER, 'stdio']
      : stdioArgs(
          v === 'pack'
            ? ['--rules', site, '--db', join(dir, 'p.db')]
            : v === 'pack-norec'
              ? ['--rules', site, '--no-record']
              : ['--no-pack', '--no-record'],
        );
  return { dir, site, stdioArgs, variantArgs };
}

/** The benchmarks' trivial MCP server (one tool, `noop`): `stdio` or `http PORT` after it. */
export const TRIVIAL_SERVER = 'bench/fixtures/trivial-server.mjs';
