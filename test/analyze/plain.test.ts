// Differential test of the plain-text fast path (issue 12, rule cost): whenever plainText(s) says a
// text holds nothing to decode and no label either way, the real functions agree: decodeUncached(s) is
// exactly [reversed s], and labelText finds nothing in s nor in its reversal. Over a large generated
// set mixing prose with everything the decoder and the detectors look for (and look-alikes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainText } from '../../src/analyze/plain.js';
import { decodeUncached } from '../../src/analyze/decode.js';
import { labelText } from '../../src/analyze/labels.js';
import { random } from '../helpers/random.js';

const reverse = (s: string) => Array.from(s).reverse().join('');
const KEYS = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'api_key',
  'apikey',
  'secret',
  'token',
  'bearer',
  'akia',
  'asia',
  'ghp_',
  'xoxb-',
  'sk-',
  'eyj',
  '-----begin',
];
const PIECES = [
  'the quarterly review is on friday, ',
  'Summary 12: shipped the beta, two bugs open. ',
  'retro on Friday.',
  ' and ',
  ' 2024-05-19 16:00 ',
  '555 123 4567',
  '123-45-6789',
  '4111 1111 1111 1111',
  'GB29NWBK60161331926819',
  'AB12',
  '12AB',
  'ops@corp.example.com',
  '@',
  '%41%4B',
  '%',
  'QUtJQUlPU0ZPRE5ON0VYQU1QTEU=',
  'QUtJ QUlP ',
  ' dGVhbSBvbiByaXZlciByZXRybyBiZXRhIGZyaWRheQ ',
  '41:4b:49:',
  'AKIAIOSFODNN7EXAMPLE',
  '\\u0041\\u0042',
  '&#65;&#66;',
  '=41=42',
  '0x41 0x42',
  '65, 66, 67, ',
  'a b c d e ',
  'w:J:a:l:',
  'caf\u00e9',
  '\u200b',
  '\uff21\uff22',
  '\t',
  '\u0001',
  ...KEYS,
  ...KEYS.map(reverse),
  ...KEYS.map((k) => k.toUpperCase()),
  ' = hunter2hunter2 ',
  ': ',
];

test('plainText: when it says plain, the decoder gives only the reversal and no label is found either way', () => {
  const rnd = random(2026);
  let plain = 0;
  for (let i = 0; i < 20_000; i++) {
    const n = 1 + Math.floor(rnd() * 6);
    // Mostly prose, sometimes one of the other pieces: plain and non-plain texts both occur.
    const s = Array.from(
      { length: n },
      () => PIECES[rnd() < 0.5 ? Math.floor(rnd() * 3) : Math.floor(rnd() * PIECES.length)],
    ).join('');
    if (!plainText(s)) continue;
    plain++;
    assert.deepEqual([...decodeUncached(s)], [reverse(s)], JSON.stringify(s));
    assert.deepEqual(labelText(s).labels, [], JSON.stringify(s));
    assert.deepEqual(labelText(reverse(s)).labels, [], JSON.stringify(reverse(s)));
  }
  assert.ok(plain > 2000, `enough plain texts generated (${plain})`);
});

test('plainText: prose is plain; a hint or an encoding in either direction is not', () => {
  assert.equal(plainText('Summary 12: shipped the beta, two bugs open, retro on Friday.'), true);
  for (const s of [
    'shipped the beta; nekot is here, retro',
    'shipped the beta; token is here, retro',
    'send it to ops@corp.example.com today',
    'the key QUtJQUlPU0ZPRE5ON0VYQU1QTEU= here',
    'pay 4111 1111 1111 1111 by friday',
    'caf\u00e9 au lait on the terrace',
    'short',
  ])
    assert.equal(plainText(s), false, s);
});
