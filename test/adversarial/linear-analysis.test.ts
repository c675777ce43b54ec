// Issue 11 §1, "Analysis must be linear on every input": every analysis entry point, on every
// pathological shape, costs the same per character at 64 KB and at 1 MB (a quadratic step costs 16x).
// Checked as a ratio between the two sizes with generous slack, never against a deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENTRY_POINTS, SHAPES, shaped } from './shapes.js';

// LINEAR_SIZES=small,large lets the check run against old code in reasonable time (e.g. 16000,64000).
const [SMALL, LARGE] = (process.env.LINEAR_SIZES ?? '64000,1000000').split(',').map(Number) as [number, number];
// A quadratic step costs ~16x per character between the two sizes; 4x leaves room for cache and GC effects.
const LIMIT = 4;
let serial = 0;

/** This process's CPU time in ns (user + system): unlike wall time, it does not grow while other processes hold the cores. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Best CPU ns per character of `runs` calls on fresh texts of `size` characters. */
function perChar(f: (t: string) => unknown, unit: string, size: number, runs: number): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const text = shaped(unit, size, `~${serial++}`);
    const t0 = cpuNs();
    f(text);
    best = Math.min(best, (cpuNs() - t0) / size);
  }
  return best;
}

function growth(f: (t: string) => unknown, unit: string): { small: number; large: number; ratio: number } {
  perChar(f, unit, SMALL, 1); // warm the JIT
  const small = perChar(f, unit, SMALL, 3);
  const large = perChar(f, unit, LARGE, 2);
  return { small, large, ratio: large / small };
}

describe('Analysis must be linear on every input (issue 11 §1)', () => {
  for (const [entry, f] of Object.entries(ENTRY_POINTS)) {
    it(`${entry}: ns per character at ${LARGE} vs ${SMALL} characters stays under ${LIMIT}x for every shape`, () => {
      const bad: string[] = [];
      for (const [name, unit] of Object.entries(SHAPES)) {
        let g = growth(f, unit);
        // Re-measure twice: a GC pause or a descheduled thread is not a quadratic, which fails every time.
        for (let retry = 0; retry < 2 && g.ratio >= LIMIT; retry++) g = growth(f, unit);
        if (g.ratio >= LIMIT) bad.push(`${name}: ${g.small.toFixed(1)} -> ${g.large.toFixed(1)} ns/char (${g.ratio.toFixed(1)}x)`);
      }
      assert.deepEqual(bad, []);
    });
  }
});
