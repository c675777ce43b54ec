import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { Lane } from '../../src/carrier/lane.js';
import { Valve } from '../../src/carrier/valve.js';

// The carrier's fast path (Lane.pass): a frame decided at once is carried before pass returns; one
// that waits holds every later frame behind it, so order and back-pressure are those of the queue.

const lane = (highWater = 1 << 20) => {
  const source = new PassThrough();
  const errors: string[] = [];
  const l = new Lane(new Valve(source, 'test', highWater), (e) => errors.push(e.message));
  return { l, source, errors };
};

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('carrier Lane.pass: the synchronous fast path', () => {
  it('a job that returns a value is carried before pass returns, its bytes given back', () => {
    const { l } = lane();
    const seen: number[] = [];
    l.pass(10, () => seen.push(1));
    assert.deepEqual(seen, [1], 'run at once, not in a later turn');
    assert.equal(l.valve.buffered, 0, 'its bytes no longer count against the valve');
  });

  it('a frame behind one still being decided waits for it: order holds, sync or not', async () => {
    const { l } = lane();
    const seen: string[] = [];
    const held = deferred();
    l.pass(5, async () => {
      await held.promise;
      seen.push('first');
    });
    l.pass(5, () => seen.push('second'));
    l.carry(5, () => seen.push('third'));
    l.pass(5, () => seen.push('fourth'));
    assert.equal(seen.length, 0, 'nothing passes the held frame');
    assert.equal(l.valve.buffered, 20, 'all four frames count against the valve while held');
    held.resolve();
    await l.drained();
    assert.deepEqual(seen, ['first', 'second', 'third', 'fourth']);
    assert.equal(l.valve.buffered, 0);
    l.pass(1, () => seen.push('fifth'));
    assert.equal(seen.at(-1), 'fifth', 'idle again: the fast path is back');
  });

  it('a job that throws at once is reported, and the frames after it are still carried', async () => {
    const { l, errors } = lane();
    const seen: string[] = [];
    l.pass(3, () => {
      throw new Error('decision failed');
    });
    l.pass(3, () => seen.push('next'));
    const rejected = deferred();
    l.pass(3, async () => {
      await rejected.promise;
      throw new Error('later failure');
    });
    l.pass(3, () => seen.push('after the failure'));
    rejected.resolve();
    await l.drained();
    assert.deepEqual(errors, ['decision failed', 'later failure']);
    assert.deepEqual(seen, ['next', 'after the failure']);
    assert.equal(l.valve.buffered, 0);
  });

  it('bytes held behind a slow decision pause the source past the mark, and resume it once carried', async () => {
    const { l, source } = lane(100);
    const held = deferred();
    l.pass(60, () => held.promise);
    assert.equal(source.isPaused(), false);
    l.pass(60, () => undefined);
    assert.equal(source.isPaused(), true, 'over the mark: the wire is not read');
    held.resolve();
    await l.drained();
    assert.equal(source.isPaused(), false, 'carried: read again');
  });
});
