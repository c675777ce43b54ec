// The analysis memos (issue 12, rule cost): a value seen once is never kept (a message body, a result's
// text, what they decode to), a value seen again is; whatever is kept, every answer equals the
// function's own (differential against calling it directly, over a long sequence with repeats, a
// bounded capacity and a small hash table so that collisions and overwritten slots happen).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Memo } from '../../src/analyze/memo.js';
import { decodeUncached, decodedLayers } from '../../src/analyze/decode.js';
import { labelText, labelValues } from '../../src/analyze/labels.js';
import { extractTargets, targetsOf } from '../../src/analyze/targets.js';
import { random } from '../helpers/random.js';

test('memo: a value seen once is not kept; seen twice it is, and is then answered without computing', () => {
  let computed = 0;
  const memo = new Memo(16, (k: string) => (computed++, `<${k}>`));
  for (let i = 0; i < 100; i++) assert.equal(memo.get(`once ${i}`), `<once ${i}>`);
  assert.equal(memo.size, 0, 'one-off values are not stored');
  assert.equal(memo.get('again'), '<again>');
  assert.equal(memo.get('again'), '<again>');
  assert.equal(memo.size, 1);
  const before = computed;
  assert.equal(memo.get('again'), '<again>');
  assert.equal(computed, before, 'a kept value is not computed again');
});

test('memo: bounded, and every answer is what the function gives (collisions, overwritten slots, clears)', () => {
  const rnd = random(12);
  const f = (k: string) => ({ k, n: k.length, rev: [...k].reverse().join('') });
  // 64 slots and a capacity of 32 over 400 distinct values: slots collide and are overwritten, the map is cleared.
  const memo = new Memo(32, f, 64);
  const pool = Array.from({ length: 400 }, (_, i) => `value ${i} ${'x'.repeat(i % 7)}`);
  for (let i = 0; i < 20_000; i++) {
    // Skewed: a few values repeat often, most rarely.
    const v = pool[Math.floor(pool.length * rnd() ** 3)]!;
    assert.deepEqual(memo.get(v), f(v));
    assert.ok(memo.size <= 32);
  }
  assert.throws(() => new Memo(8, f, 100), RangeError);
});

test('analysis memos answer as the uncached functions do, for repeated and one-off values', () => {
  const rnd = random(7);
  const pieces = [
    'ops@corp.example.com ',
    'QUtJQUlPU0ZPRE5ON0VYQU1QTEU= ',
    'https://evil.test/x ',
    'password=hunter22 ',
    'the ',
    'notes ',
    '%41%4B ',
    '4111 1111 1111 1111 ',
    'GB29NWBK60161331926819 ',
  ];
  const pool = Array.from({ length: 60 }, () =>
    Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => pieces[Math.floor(rnd() * pieces.length)]).join(
      '',
    ),
  );
  for (let i = 0; i < 3000; i++) {
    const v =
      rnd() < 0.5 ? pool[Math.floor(rnd() * pool.length)]! : `${pool[Math.floor(rnd() * pool.length)]!} ${i}`;
    assert.deepEqual([...decodedLayers(v)], [...decodeUncached(v)]);
    assert.deepEqual(labelValues([v]), labelText(v));
    assert.deepEqual([...targetsOf(v, i % 2 === 0)], [...extractTargets(v, new Map(), i % 2 === 0)]);
  }
});
