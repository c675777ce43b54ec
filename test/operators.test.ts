import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Subject, firstValueFrom, toArray } from 'rxjs';
import { concatMapEager } from '../src/monitor/operators/concat-map-eager.js';

const delay = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

describe('concatMapEager', () => {
  it('keeps input order when sync and async projections mix and promises settle out of order', async () => {
    const src = new Subject<number>();
    const out = firstValueFrom(
      src.pipe(
        concatMapEager((n) => (n % 3 === 0 ? n : delay(30 - n, n))),
        toArray(),
      ),
    );
    for (let i = 0; i < 10; i++) src.next(i);
    src.complete();
    assert.deepEqual(await out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('emits synchronously while nothing is held', () => {
    const src = new Subject<number>();
    const seen: number[] = [];
    const sub = src.pipe(concatMapEager((n) => n * 2)).subscribe((v) => seen.push(v));
    src.next(1);
    assert.deepEqual(seen, [2], 'no microtask hop on the fast path');
    src.next(2);
    assert.deepEqual(seen, [2, 4]);
    sub.unsubscribe();
  });

  it('a throwing or rejecting projection errors the stream; unsubscribing drops what is queued', async () => {
    const thrown = new Subject<number>();
    const errors: unknown[] = [];
    thrown
      .pipe(
        concatMapEager((): number => {
          throw new Error('boom');
        }),
      )
      .subscribe({ error: (e) => errors.push(e) });
    thrown.next(1);
    assert.match(String(errors[0]), /boom/);
    const rejected = new Subject<number>();
    const done = firstValueFrom(rejected.pipe(concatMapEager(() => Promise.reject(new Error('no'))))).catch(
      (e: Error) => e.message,
    );
    rejected.next(1);
    assert.equal(await done, 'no');
    const src = new Subject<number>();
    const seen: number[] = [];
    const sub = src.pipe(concatMapEager((n) => delay(20, n))).subscribe((v) => seen.push(v));
    src.next(1);
    src.next(2);
    sub.unsubscribe();
    await delay(40, 0);
    assert.deepEqual(seen, [], 'nothing is emitted after teardown');
    assert.equal(src.observed, false, 'the source subscription is released');
  });
});
