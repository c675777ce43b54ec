// Differential test of the decoder's fused level-0 pass (issue 12, rule cost): over a large generated
// set of values (escapes, fillers, surrogates, full-width and other non-ASCII letters, base64, hex,
// percent-encoding, code lists, their reversals and encodings), decodeUncached gives exactly what the
// decoder gave before the fusion (test/analyze/fixtures/decode-before-fusion.ts): same texts, same
// order, same overflow flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUncached, nothingToDecode } from '../../src/analyze/decode.js';
import { decodeUncached as before } from './fixtures/decode-before-fusion.js';
import { SHAPES, shaped } from '../adversarial/shapes.js';
import { random } from '../helpers/random.js';

// Pieces values are made of: what each reading and layer looks for, and what looks like it but is not.
const PIECES = [
  ...'abcXYZ019 ,;:|=&#%\\-_+/.x0',
  'the ',
  'Summary 12: ',
  '2024-05-19 16:00',
  '\\u0041',
  '\\u00e9',
  '\\x41',
  '\\x4',
  '0x41',
  '0X4a',
  '0xZZ',
  '&#65;',
  '&#x41;',
  '&#1114112;',
  '&#;',
  '=41',
  '=4',
  '65, ',
  '119,',
  '74;',
  '300 ',
  '31,',
  '%41',
  '%4',
  '%%',
  '+',
  'QUtJQUlPU0ZPRE5ON0VYQU1QTEU=',
  'QUtJ QUlP ',
  '41:4b:49:',
  '414b4941',
  'JBSWY3DP',
  'AKIAIOSFODNN7EXAMPLE',
  '\u200b',
  '\u2060',
  '\ufeff',
  '\u00ad',
  '\u202e',
  '\ufe0f',
  '\u00a0',
  '\u3000',
  '\u007f',
  '\u0085',
  'é',
  'e\u0301',
  'ｆｕｌｌ',
  'ﬁ',
  'ｉｇｎｏｒｅ',
  'привет',
  '忽略',
  '😀',
  '\ud83d',
  '\ude00',
  '\udb40\udc41',
  '\ufffd',
];

function generated(seed: number, count: number): string[] {
  const rnd = random(seed);
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    // Mostly few distinct pieces repeated (runs, lists, hidden tokens), sometimes any mix.
    const palette = Array.from(
      { length: 1 + Math.floor(rnd() * 4) },
      () => PIECES[Math.floor(rnd() * PIECES.length)]!,
    );
    const pieces = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 120 : 24));
    let s = '';
    for (let i = 0; i < pieces; i++)
      s +=
        rnd() < 0.85
          ? palette[Math.floor(rnd() * palette.length)]
          : PIECES[Math.floor(rnd() * PIECES.length)];
    out.push(s);
  }
  return out;
}

/** A value and what an agent could make of it: reversed, base64, hex, a code list, escaped. */
function variants(s: string): string[] {
  const codes = Array.from(s, (ch) => ch.codePointAt(0)!);
  return [
    s,
    Array.from(s).reverse().join(''),
    Buffer.from(s).toString('base64'),
    Buffer.from(s).toString('hex'),
    codes.join(', '),
    codes.map((c) => `\\u${c.toString(16).padStart(4, '0')}`).join(''),
    // Percent-encoded UTF-8 (a lone surrogate as U+FFFD), letters and digits kept.
    Array.from(Buffer.from(s), (b) =>
      /[A-Za-z0-9]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0')}`,
    ).join(''),
  ];
}

function differences(values: Iterable<string>): { checked: number; diffs: string[] } {
  let checked = 0;
  const diffs: string[] = [];
  for (const v of values) {
    checked++;
    const now = decodeUncached(v);
    const then = before(v);
    if (
      now.length !== then.length ||
      now.some((d, i) => d !== then[i]) ||
      Boolean(now.overflow) !== Boolean(then.overflow)
    )
      if (diffs.length < 5) diffs.push(JSON.stringify(v).slice(0, 200));
  }
  return { checked, diffs };
}

test('fused level-0 readings: the same decodings as before, over 105,000 generated values', () => {
  const values = generated(12, 15_000).flatMap(variants);
  const { checked, diffs } = differences(values);
  assert.equal(checked, 105_000);
  assert.deepEqual(diffs, [], `values decoded differently: ${diffs.join(', ')}`);
});

test('fused level-0 readings: the same decodings as before on the adversarial shapes, short and long', () => {
  const values = Object.values(SHAPES).flatMap((unit) =>
    [15, 16, 17, 64, 200, 4000].flatMap((n) => variants(shaped(unit, n, 'x'))),
  );
  const { diffs } = differences(values);
  assert.deepEqual(diffs, [], `values decoded differently: ${diffs.join(', ')}`);
});

test('fused level-0 readings: readings still found (reversal, fillers, escapes, NFKC)', () => {
  const secret = 'AKIAIOSFODNN7EXAMPLE';
  const has = (v: string) => decodeUncached(v).some((d) => d.includes(secret));
  assert.ok(has([...secret].reverse().join('')), 'reversed');
  assert.ok(has([...secret].join('\u200b')), 'zero-width joins');
  assert.ok(has([...secret].map((c) => `\\x${c.charCodeAt(0).toString(16)}`).join('')), 'escapes');
  assert.ok(has([...secret].map((c) => c.charCodeAt(0)).join(',')), 'code list');
  assert.ok(
    has(secret.replace(/[A-Z0-9]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))),
    'full-width',
  );
});

// An answer's analysis budget is settled before delivery without decoding a text that nothingToDecode
// clears (src/rules/context.ts answerOverBudget): that is only sound if the decoder, given it, decodes
// nothing — its one reading the text reversed, no layer, no inflated stream.
function clearedButDecoded(values: Iterable<string>): { cleared: number; wrong: string[] } {
  let cleared = 0;
  const wrong: string[] = [];
  for (const v of values) {
    if (!nothingToDecode(v)) continue;
    cleared++;
    const d = decodeUncached(v);
    const reversal = [...v].reverse().join('');
    if (d.overflow || d.length > 1 || (d.length === 1 && d[0] !== reversal))
      if (wrong.length < 5) wrong.push(JSON.stringify(v).slice(0, 200));
  }
  return { cleared, wrong };
}

test('nothingToDecode: true only for values the decoder decodes nothing in (generated values)', () => {
  const { cleared, wrong } = clearedButDecoded(generated(13, 15_000).flatMap(variants));
  assert.deepEqual(wrong, [], `cleared, yet decoded: ${wrong.join(', ')}`);
  // Not vacuous: plenty of the generated values have nothing to decode.
  assert.ok(cleared > 1000, `only ${cleared} values cleared`);
});

test('nothingToDecode: true only for values the decoder decodes nothing in (adversarial shapes)', () => {
  const values = Object.values(SHAPES).flatMap((unit) =>
    [15, 16, 17, 64, 200, 4000].flatMap((n) => variants(shaped(unit, n, 'x'))),
  );
  const { wrong } = clearedButDecoded(values);
  assert.deepEqual(wrong, [], `cleared, yet decoded: ${wrong.join(', ')}`);
});

test('nothingToDecode: prose is cleared; what hides or encodes something is not', () => {
  const prose = 'The quarterly report lists revenue by region, and the plan for the next release. '.repeat(
    800,
  );
  assert.equal(nothingToDecode(prose), true);
  for (const hidden of [
    `${prose}H4sIAAAAAAAAA+3BAQ0AAADCoPdPbQ8HFAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`, // a run of base64
    `${prose}%41%4b%49`, // percent-encoding
    `${prose}\\u0041\\u004b\\u0049\\u0041\\u0049\\u004f\\u0053\\u0046`, // escapes
    `${prose}65, 75, 73, 65, 73, 79, 83, 70`, // a list of character codes
    'QUtJ QUlP U0ZP RE5O N0VY QU1Q TEU=', // short tokens a filler hides a run between
    `${prose}ｉｇｎｏｒｅ`, // past ASCII: folded by NFKC
  ])
    assert.equal(nothingToDecode(hidden), false, hidden.slice(-60));
});
