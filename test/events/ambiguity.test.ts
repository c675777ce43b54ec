// src/events/ambiguity.ts against a reference reading: a small recursive JSON parser
// that keeps every key of every object as it came (JSON.parse keeps only the last of a key given twice,
// so it cannot be the reference). Random texts mix the cases the scan must get right: keys equal after
// unescaping or but for case, quotes, braces, colons and backslashes inside strings, whitespace, nesting,
// and objects large enough to be indexed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ambiguity } from '../../src/events/ambiguity.js';
import { random } from '../helpers/random.js';

type Verdict = 'duplicate' | 'case' | undefined;
type Problem = Exclude<Verdict, undefined>;

const fold = (k: string) => k.toUpperCase().toLowerCase();

/** Every kind of problem the text has: a key equal to an earlier key of its object, or equal but for case. */
function reference(text: string): Set<Problem> {
  let i = 0;
  const found = new Set<Problem>();
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen: string[] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const k = str();
        for (const s of seen) {
          if (s === k) found.add('duplicate');
          else if (fold(s) === fold(k)) found.add('case');
        }
        seen.push(k);
        ws();
        i++; // :
        value();
        ws();
        if (text[i++] === '}') return;
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i++] === ']') return;
      }
    } else if (c === '"') str();
    else while (/[-+.\w]/.test(text[i] ?? '')) i++;
  };
  value();
  return found;
}

const verdictOf = (m: string | undefined): Verdict =>
  m === undefined
    ? undefined
    : /same key/.test(m)
      ? 'duplicate'
      : /only in case/.test(m)
        ? 'case'
        : undefined;

const KEYS = [
  'a',
  'A',
  'name',
  'Name',
  'NAME',
  'id',
  'ſ',
  's',
  'K',
  'k',
  '\u212a',
  'é',
  'É',
  'x"y',
  'b\\',
  'c:d',
];
const STRINGS = ['', 'plain', '{"a":1}', '"name":', 'q\\"', '\\\\', '}', '{', ':', 'ſ', '\u2028'];

function generate(r: () => number, depth = 0): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const sp = () => (r() < 0.2 ? pick([' ', '\n', '\t ', '\r\n']) : '');
  const key = () => {
    const k = pick(KEYS);
    // Sometimes the same key written with an escape: JSON.stringify, then one letter as \uXXXX.
    const quoted = JSON.stringify(k);
    if (r() < 0.15 && /^"[a-z]/i.test(quoted))
      return `"\\u${quoted.charCodeAt(1).toString(16).padStart(4, '0')}${quoted.slice(2)}`;
    return quoted;
  };
  const roll = r();
  if (depth > 4 || roll < 0.3)
    return pick([() => JSON.stringify(pick(STRINGS)), () => String(Math.floor(r() * 100)), () => 'null'])();
  if (roll < 0.5) {
    const n = Math.floor(r() * 4);
    return `[${sp()}${Array.from({ length: n }, () => generate(r, depth + 1)).join(`${sp()},${sp()}`)}${sp()}]`;
  }
  // Objects of up to 3 keys, or now and then of 20 (past the index's threshold).
  const n = r() < 0.1 ? 20 : Math.floor(r() * 4);
  const members = Array.from({ length: n }, (_, j) => {
    const k = n === 20 && r() < 0.9 ? JSON.stringify(`k${j}`) : key();
    return `${sp()}${k}${sp()}:${sp()}${generate(r, depth + 1)}`;
  });
  return `{${members.join(',')}${sp()}}`;
}

describe('ambiguity: JSON two parsers read differently', () => {
  it('agrees with a reference parser on 6,000 random texts', () => {
    const r = random(7);
    const tally = { duplicate: 0, case: 0, clean: 0 };
    for (let n = 0; n < 6_000; n++) {
      const text = generate(r);
      const parsed = JSON.parse(text) as unknown;
      const want = reference(text);
      const got = verdictOf(ambiguity(parsed, text));
      // Ambiguous exactly when the reference finds a problem, and named as one of the problems it finds.
      assert.equal(got !== undefined, want.size > 0, text);
      if (got !== undefined) assert.ok(want.has(got), `${got} not in ${[...want].join(', ')}: ${text}`);
      if (want.size === 0) tally.clean++;
      for (const p of want) tally[p]++;
    }
    // The generator reaches every verdict often (a test that only ever saw clean texts proves nothing).
    for (const [k, v] of Object.entries(tally)) assert.ok(v > 200, `${k}: ${v}`);
  });

  const read = (text: string) => ambiguity(JSON.parse(text), text);

  it('finds the repeat in a large object, and keys after a nested object', () => {
    const many = Array.from({ length: 40 }, (_, j) => `"k${j}":{"k${j}":1}`).join(',');
    assert.match(read(`{${many},"k3":2}`)!, /same key/);
    assert.match(read(`{${many},"K39":2}`)!, /\["k39","K39"\]/);
    assert.equal(read(`{${many},"k40":{"k0":1}}`), undefined);
    assert.match(read('{"a":{"b":1},"c":[{"d":{}}],"a":2}')!, /same key/);
  });

  it('an object of 100,000 keys', () => {
    const keys = Array.from({ length: 100_000 }, (_, j) => `"key${j}":${j}`);
    assert.equal(read(`{${keys.join(',')}}`), undefined);
    assert.match(read(`{${keys.join(',')},"KEY99999":1}`)!, /only in case/);
    assert.match(read(`{${keys.join(',')},"key0":1}`)!, /same key/);
  });

  it('without the text (a message handed over in process), case clashes are still found', () => {
    assert.match(ambiguity({ x: [{ y: { Tool: 1, tool: 2 } }] })!, /only in case/);
    assert.equal(ambiguity({ x: [{ y: { Tool: 1, toolS: 2 } }] }), undefined);
  });
});
