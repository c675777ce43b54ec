import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sequence } from '../../src/monitor/sequence.js';

const delay = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

/** A sequence that records what it handled, and when it finished or faulted. */
function recording(step: (n: number) => void | Promise<unknown>) {
  const seen: number[] = [];
  const faults: unknown[] = [];
  let finished = 0;
  let onFinish = () => {};
  const whenFinished = new Promise<void>((r) => (onFinish = r));
  const lane = new Sequence<number>(
    (n) => {
      const out = step(n);
      if (out === undefined) {
        seen.push(n);
        return;
      }
      return out.then(() => {
        seen.push(n);
      });
    },
    () => {
      finished++;
      onFinish();
    },
    (e) => faults.push(e),
  );
  return { lane, seen, faults, finished: () => finished, whenFinished };
}

describe('Sequence', () => {
  it('keeps arrival order when synchronous and held steps mix and promises settle out of order', async () => {
    const { lane, seen, finished, whenFinished } = recording((n) =>
      n % 3 === 0 ? undefined : delay(30 - n, n),
    );
    for (let i = 0; i < 10; i++) lane.push(i);
    lane.end();
    assert.equal(finished(), 0, 'held steps keep the sequence open after end');
    await whenFinished;
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(finished(), 1, 'finished once, after the last step');
  });

  it('handles a value synchronously while nothing is held, and finishes at once when idle', () => {
    const { lane, seen, finished } = recording(() => undefined);
    lane.push(1);
    assert.deepEqual(seen, [1], 'no microtask hop on the fast path');
    lane.push(2);
    assert.deepEqual(seen, [1, 2]);
    lane.end();
    assert.equal(finished(), 1);
    lane.push(3);
    assert.deepEqual(seen, [1, 2], 'nothing is taken after the sequence finished');
    assert.equal(lane.open, false);
  });

  it('a throwing or rejecting step stops the sequence and reports the fault once; close drops what is queued', async () => {
    const thrown = recording(() => {
      throw new Error('boom');
    });
    thrown.lane.push(1);
    thrown.lane.push(2);
    assert.equal(thrown.faults.length, 1);
    assert.match(String(thrown.faults[0]), /boom/);
    assert.equal(thrown.finished(), 1, 'a faulted lane is finished (its state disposed)');

    const rejected = recording(() => Promise.reject(new Error('no')));
    rejected.lane.push(1);
    rejected.lane.push(2);
    await delay(5, 0);
    assert.deepEqual(
      rejected.faults.map((e) => (e as Error).message),
      ['no'],
      'the queued value is not run after the fault',
    );

    const held = recording((n) => delay(20, n));
    held.lane.push(1);
    held.lane.push(2);
    held.lane.close();
    assert.equal(held.finished(), 1);
    await delay(60, 0);
    assert.deepEqual(held.seen, [1], 'the step in flight completes; the queued one is dropped');
  });
});
