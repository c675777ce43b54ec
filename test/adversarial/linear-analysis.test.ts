// Issue 11 §1, "Analysis must be linear on every input": every analysis entry point, on every
// pathological shape, costs the same per character at 64 KB and at 1 MB (a quadratic step costs 16x).
// Checked as a ratio between the two sizes, relative to a known-linear reference measured alongside,
// with generous slack (4x), in this process's CPU time, never against a deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENTRY_POINTS, SHAPES, shaped } from './shapes.js';

// LINEAR_SIZES=small,large lets the check run against old code in reasonable time (e.g. 16000,64000).
const [SMALL, LARGE] = (process.env.LINEAR_SIZES ?? '64000,1000000').split(',').map(Number) as [
  number,
  number,
];
// A quadratic step costs ~16x per character between the two sizes; 4x leaves room for cache and GC effects.
const LIMIT = 4;
let serial = 0;

/** This process's CPU time in ns (user + system): unlike wall time, it does not grow while other processes hold the cores. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** CPU ns per character of one call of `f` on a fresh text of `size` characters. */
function once(f: (t: string) => unknown, unit: string, size: number): number {
  const text = shaped(unit, size, `~${serial++}`);
  const t0 = cpuNs();
  f(text);
  return (cpuNs() - t0) / size;
}

// A known-linear reference (copy, lower-case and read every character), measured interleaved with the
// analyser on texts of the same sizes: what the machine's load, caches and garbage collector do to
// per-character cost at 1 MB divides out, and what remains is the analyser's own growth.
const reference = (t: string): number => {
  const lower = t.toLowerCase();
  let h = 0;
  for (let i = 0; i < lower.length; i++) h = (h * 31 + lower.charCodeAt(i)) | 0;
  return h;
};

function growth(f: (t: string) => unknown, unit: string): { small: number; large: number; ratio: number } {
  once(f, unit, SMALL); // warm the JIT
  const best = { f: [Infinity, Infinity], ref: [Infinity, Infinity] };
  for (let round = 0; round < 3; round++) {
    [SMALL, LARGE].forEach((size, k) => {
      best.ref[k] = Math.min(best.ref[k]!, once(reference, unit, size));
      best.f[k] = Math.min(best.f[k]!, once(f, unit, size));
    });
  }
  const [small, large] = best.f as [number, number];
  return {
    small,
    large,
    ratio: large / Math.max(small, 1e-3) / Math.max(1, best.ref[1]! / Math.max(best.ref[0]!, 1e-3)),
  };
}
describe('Analysis must be linear on every input (issue 11 §1)', () => {
  for (const [entry, f] of Object.entries(ENTRY_POINTS)) {
    it(`${entry}: ns per character at ${LARGE} vs ${SMALL} characters stays under ${LIMIT}x for every shape`, () => {
      const bad: string[] = [];
      for (const [name, unit] of Object.entries(SHAPES)) {
        let g = growth(f, unit);
        // Re-measured up to three times: a GC pause or a busy core is not a quadratic (which stays at ~16x).
        for (let again = 0; again < 3 && g.ratio >= LIMIT; again++) g = growth(f, unit);
        if (g.ratio >= LIMIT)
          bad.push(
            `${name}: ${g.small.toFixed(1)} -> ${g.large.toFixed(1)} ns/char (${g.ratio.toFixed(1)}x the reference's growth)`,
          );
      }
      assert.deepEqual(bad, []);
    });
  }
});
