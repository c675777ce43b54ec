/** Small helpers for benchmarks: percentiles over nanosecond samples, table printing. */
import { existsSync } from 'node:fs';

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
