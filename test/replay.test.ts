import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  createMonitor,
  createReplayClock,
  parseBundleLine,
  parseIntent,
  replayBundle,
  readBundles,
} from '../src/index.js';
import { numberedLines } from '../src/store/bundle.js';
import { callEvents } from './helpers/bundles.js';
import { AUTO_JOBS_THRESHOLD, resolveJobs } from '../src/replay/pool.js';

const run = promisify(execFile);

const honest = {
  id: 's-honest',
  intent: { purpose: 'read notes', tools: ['read'] },
  events: callEvents([{ tool: 'read' }, { tool: 'read' }]),
  label: 'benign',
  meta: { secret: 1 },
};
const drifting = {
  id: 's-drift',
  intent: { purpose: 'read notes', tools: ['read'] },
  events: callEvents([{ tool: 'read' }, { tool: 'send' }, { tool: 'read' }]),
  label: 'attack',
};
const overBudget = {
  id: 's-budget',
  intent: { purpose: 'read notes', tools: ['read'], budget: { calls: 1 } },
  events: callEvents([{ tool: 'read' }, { tool: 'read' }, { tool: 'read' }]),
};

function bundleFile(lines: string[], gz = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'ig-replay-'));
  const path = join(dir, gz ? 'b.jsonl.gz' : 'b.jsonl');
  const text = lines.join('\n') + '\n';
  writeFileSync(path, gz ? gzipSync(text) : text);
  return path;
}

describe('replay', () => {
  it('replays sessions through the same monitor path as the live tap', async () => {
    const clock = createReplayClock();
    const monitor = createMonitor({ clock: clock.now });
    const a = await replayBundle(monitor, parseBundleLine(JSON.stringify(honest)), { clock });
    assert.equal(a.outcome, 'allow');
    assert.equal(a.stopped_at_call, null);
    const b = await replayBundle(monitor, parseBundleLine(JSON.stringify(drifting)), { clock });
    assert.equal(b.outcome, 'reauthorize');
    assert.equal(b.stopped_at_call, 1);
    assert.deepEqual(
      b.findings.map((f) => [f.rule, f.action, f.call]),
      [['intent/tool-not-approved', 'reauthorize', 1]],
    );
    assert.equal(b.skipped, 1, 'the recorded answer to the refused call is not fed (live it never happens)');
    const c = await replayBundle(monitor, parseBundleLine(JSON.stringify(overBudget)), { clock });
    assert.equal(c.outcome, 'halt');
    assert.equal(c.stopped_at_call, 1);
    assert.ok(c.skipped >= 3, 'nothing is fed after a halt');
    assert.deepEqual(monitor.stats(), { sessions: 0, groups: 0 });
    monitor.close();
  });

  it('uses recorded event times with the injectable clock (duration budget)', async () => {
    const clock = createReplayClock();
    const monitor = createMonitor({ clock: clock.now });
    const events = callEvents([{ tool: 'read' }, { tool: 'read' }]).map((e, i) => ({
      ...e,
      t: i < 7 ? i * 1000 : 120_000,
    }));
    const r = await replayBundle(
      monitor,
      parseBundleLine(
        JSON.stringify({
          id: 't',
          intent: { purpose: 'p', tools: ['read'], budget: { duration: '1m' } },
          events,
        }),
      ),
      { clock },
    );
    assert.equal(r.outcome, 'halt');
    assert.ok(r.findings.some((f) => f.rule === 'intent/budget-duration'));
    monitor.close();
  });

  it('reads plain and gzipped files and reports malformed lines with their numbers', async () => {
    for (const gz of [false, true]) {
      const path = bundleFile(
        [
          JSON.stringify(honest),
          '{not json',
          '',
          JSON.stringify({
            id: 'x',
            intent: { purpose: 'p', tools: ['a'] },
            events: [{ dir: 'up', msg: {} }],
          }),
          JSON.stringify(drifting),
        ],
        gz,
      );
      const items = [];
      for await (const item of readBundles(path)) items.push(item);
      assert.equal(items.length, 4);
      assert.deepEqual(
        items.map((i) => ('error' in i ? `${i.line}:${i.error.code}` : i.id)),
        ['s-honest', '2:ERR_BUNDLE_LINE', '4:ERR_BUNDLE_LINE', 's-drift'],
      );
    }
  });

  it('never reads label or meta: results are identical when they are removed', async () => {
    const clock = createReplayClock();
    const monitor = createMonitor({ clock: clock.now });
    const strip = ({ label: _l, meta: _m, ...rest }: Record<string, unknown>) => rest;
    for (const s of [honest, drifting]) {
      const withMeta = await replayBundle(monitor, parseBundleLine(JSON.stringify(s)), { clock });
      const without = await replayBundle(monitor, parseBundleLine(JSON.stringify(strip(s))), { clock });
      assert.deepEqual(withMeta, without);
    }
    monitor.close();
  });

  it('intentguard replay --json prints one result per session and exits non-zero on a malformed line', async () => {
    const path = bundleFile([JSON.stringify(honest), JSON.stringify(drifting), 'oops'], true);
    const r = await run(process.execPath, ['bin/intentguard.js', 'replay', path, '--json']).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal((r as { code?: number }).code, 1);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            id: string;
            outcome: string;
            stopped_at_call: number | null;
            findings: unknown[];
          },
      );
    assert.deepEqual(
      lines.map((l) => [l.id, l.outcome, l.stopped_at_call]),
      [
        ['s-honest', 'allow', null],
        ['s-drift', 'reauthorize', 1],
      ],
    );
    assert.match(r.stderr, /:3: ERR_BUNDLE_LINE: not JSON/);
    // On worker threads: the same results in file order, the same error and exit code.
    const many = bundleFile(
      [
        ...Array.from({ length: 12 }, (_, i) =>
          JSON.stringify({ ...(i % 2 ? drifting : honest), id: `s-${i}` }),
        ),
        'oops',
      ],
      true,
    );
    const one = await run(process.execPath, ['bin/intentguard.js', 'replay', many, '--json']).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    const four = await run(process.execPath, [
      'bin/intentguard.js',
      'replay',
      many,
      '--json',
      '--jobs',
      '3',
    ]).catch((e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal(four.stdout, one.stdout);
    assert.equal((four as { code?: number }).code, 1);
    assert.match(four.stderr, /:13: ERR_BUNDLE_LINE: not JSON/);
    const plain = await run(process.execPath, [
      'bin/intentguard.js',
      'replay',
      bundleFile([JSON.stringify(drifting)]),
      '--no-pack',
    ]);
    assert.match(plain.stdout, /reauthorize\s+stopped_at_call=1/);
    assert.match(plain.stdout, /intent\/tool-not-approved\(reauthorize@1\)/);
    // With the shipped pack (the default) the same drift is held by IG-INT-001.
    const packed = await run(process.execPath, [
      'bin/intentguard.js',
      'replay',
      bundleFile([JSON.stringify(drifting)]),
    ]);
    assert.match(packed.stdout, /IG-INT-001\(reauthorize@1\)/);
  });

  it('bundle files: lines keep their numbers across CRLF and gzip; a line over the cap stops the read with ERR_BUNDLE_LINE naming it', async () => {
    const text = `${JSON.stringify(honest)}\r\n\r\n${JSON.stringify(drifting)}`;
    for (const gz of [false, true]) {
      const path = bundleFile(text.split('\n'), gz);
      const got: string[] = [];
      for await (const { line, lineNo } of numberedLines(path))
        got.push(`${lineNo}:${(JSON.parse(line) as { id: string }).id}`);
      assert.deepEqual(got, ['1:s-honest', '3:s-drift'], `gzip=${gz}`);
    }
    const long = bundleFile([
      JSON.stringify(honest),
      JSON.stringify({ ...drifting, meta: { pad: 'x'.repeat(5000) } }),
    ]);
    const seen: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const b of readBundles(long, 2048)) seen.push(b);
      })(),
      (e: { code?: string; message: string }) => {
        assert.equal(e.code, 'ERR_BUNDLE_LINE');
        assert.match(e.message, /:2: line longer than 2048 bytes/);
        return true;
      },
    );
    assert.equal(seen.length, 1, 'the lines before it were read');
  });

  it('--jobs auto replays on one thread per core for large inputs only', () => {
    assert.equal(resolveJobs(3, 1), 3);
    assert.equal(resolveJobs('auto', AUTO_JOBS_THRESHOLD - 1), 1);
    assert.equal(resolveJobs('auto', AUTO_JOBS_THRESHOLD), Math.max(1, availableParallelism()));
    assert.equal(resolveJobs(undefined, 10_000), Math.max(1, availableParallelism()));
  });

  it('rejects a bundle whose intent is malformed, naming the path', () => {
    assert.throws(
      () => parseBundleLine(JSON.stringify({ id: 'x', intent: { purpose: '', tools: [] }, events: [] })),
      (e: { code: string; message: string }) =>
        e.code === 'ERR_INTENT_INVALID' && /intent\.purpose/.test(e.message),
    );
    assert.throws(
      () => parseIntent({ purpose: 'p', tools: [{ name: 'a', args: { x: { regex: '.*' } } }] }),
      /unknown check/,
    );
  });
});
