// The label pre-check (hinted) reads an ASCII text in its one pass, keywords found by their first two
// characters; past ASCII it lower-cases the text as before (issue 12, rule cost). Whatever the path,
// a text a detector labels is still labelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelText } from '../../src/analyze/labels.js';

const SAMPLES: [string, string][] = [
  ['private-key', '-----BEGIN RSA PRIVATE KEY-----'],
  ['aws-access-key', 'AKIAIOSFODNN7EXAMPLE'],
  ['aws-secret-key', 'Aws_Secret_Access_Key = abcdefghijklmnopqrstuvwxyz'],
  ['github-token', `ghp_${'a'.repeat(36)}`],
  ['slack-token', 'xoxb-1234567890-abc'],
  ['openai-style-key', `sk-${'A'.repeat(24)}`],
  ['jwt', 'eyJabcdefghij.eyJabcdefghij.abcdefghijk'],
  ['password-assignment', 'PassWord: hunter22'],
  ['password-assignment', 'pWd=abcd'],
  ['password-assignment', 'API_KEY=xyz12345'],
  ['password-assignment', 'SECRET: abcd'],
  ['password-assignment', 'token = abcdef'],
  ['bearer', 'Bearer abcdefghijklmnopqrstuvwxyz'],
];

test('label hints: every keyword-led detector, at the start, inside prose and at the end of an ASCII text', () => {
  for (const [kind, sample] of SAMPLES)
    for (const text of [sample, `notes to send: ${sample}`, `Summary 12: ${sample} (see above) ok`])
      assert.ok(labelText(text).kinds.includes(kind), `${kind} in ${JSON.stringify(text)}`);
});

test('label hints: a keyword that lower-casing makes ASCII (the Kelvin sign) is still found past ASCII', () => {
  // U+212A lower-cases to `k`: `toKen` is `token` to the case-insensitive detectors.
  assert.deepEqual(labelText('to\u212Aen = abcd1234').kinds, ['password-assignment']);
});

test('label hints: prose with none of them stays unlabelled', () => {
  assert.deepEqual(labelText('Summary 12: shipped the beta, two bugs open, retro on Friday.').kinds, []);
  assert.deepEqual(labelText('.yadirF no orter ,nepo sgub owt ,ateb eht deppihs :21 yrammuS').kinds, []);
});
