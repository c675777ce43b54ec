// Hostile bytes, another shape of issue 11 §2 ("what the monitor thinks the server will answer must be
// what the server answers"): JSON that two parsers read differently. JavaScript keeps the last of a key
// given twice and matches keys by exact case; other stacks keep the first, or match case-insensitively
// (Go's encoding/json struct decoding). The fixture server reads JSON that way, so without the fix the
// monitor approves one tool and the server runs another. Every such message is refused with
// ERR_JSON_AMBIGUOUS, in both directions, and never reaches its peer.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ambiguity, keysInText } from '../../src/events/ambiguity.js';
import { AWS_LINE, handshake, project, stdioProxy } from './wire.js';

const SERVER = 'test/adversarial/fixtures/first-wins-server.mjs';
const SECRET = AWS_LINE.split('=')[1]!;

async function through(lines: string[]) {
  const pj = project();
  const ran = join(pj.dir, 'ran.log');
  writeFileSync(ran, '');
  process.env.RAN_LOG = ran;
  process.env.SECRET_LINE = AWS_LINE;
  const p = stdioProxy(pj.intentFile, [process.execPath, SERVER]);
  await handshake(p);
  p.send('{"jsonrpc":"2.0","id":"list","method":"tools/list"}');
  await p.waitAnswers('list');
  for (const l of lines) p.send(l);
  for (let i = 1; i <= lines.length; i++) await p.waitAnswers(i);
  p.send('{"jsonrpc":"2.0","id":"after","method":"ping"}');
  await p.waitAnswers('after');
  await p.close();
  return { p, ran: readFileSync(ran, 'utf8').split('\n').filter(Boolean) };
}

const codeOf = (a: { error?: { data?: { code?: string } } } | undefined) => a?.error?.data?.code;

describe('parser differential (issue 11 §2, JSON read two ways)', () => {
  it('a tools/call naming its tool twice, or in two cases, is refused and never runs', async () => {
    const { p, ran } = await through([
      // First-wins reads write_file (not approved); JavaScript reads read_text_file (approved).
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","name":"read_text_file","arguments":{"path":"x"}}}',
      // A case-insensitive decoder reads the last match, "Name": write_file.
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_text_file","Name":"write_file","arguments":{"path":"x"}}}',
      // The Kelvin sign folds to k; the clash is deep inside the arguments.
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_text_file","arguments":{"path":"a","opts":{"key":1,"\\u212Aey":2}}}}',
      // The envelope itself: "Method" beside "method".
      '{"jsonrpc":"2.0","id":4,"method":"ping","Method":"tools/call","params":{"name":"write_file"}}',
    ]);
    for (const id of [1, 2, 3, 4])
      assert.equal(codeOf(p.answers(id)[0]), 'ERR_JSON_AMBIGUOUS', `answer to ${id}`);
    assert.deepEqual(ran, [], 'the server ran nothing');
  });

  it('a result giving a key twice is withheld: a first-wins client would read the secret the monitor never saw', async () => {
    const { p, ran } = await through([
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_directory","arguments":{}}}',
    ]);
    assert.deepEqual(ran, ['list_directory']);
    assert.ok(!p.lines.some((l) => l.includes(SECRET)), 'the secret is never delivered');
    assert.equal(codeOf(p.answers(1)[0]), 'ERR_JSON_AMBIGUOUS');
  });

  it('ordinary messages pass: camelCase keys, keys and colons inside strings, escaped quotes', async () => {
    const { p, ran } = await through([
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_text_file","arguments":{"path":"a\\":\\"b","note":"\\"x\\": 1, \\"name\\": \\"write_file\\"","isError":false,"inputSchema":{}}}}',
    ]);
    assert.deepEqual(ran, ['read_text_file']);
    assert.equal(p.answers(1)[0]?.error, undefined);
  });

  it('the text is read for keys only where they are keys, and ambiguity names what is wrong', () => {
    assert.equal(keysInText('{"a":1,"b":{"c":"d:\\"e\\":"},"f":[{"g":null}]}'), 5);
    assert.equal(keysInText('{"a\\\\":1,"b":"\\\\"}'), 2);
    const read = (t: string) => ambiguity(JSON.parse(t), t);
    // Colons and quoted keys inside strings are not keys; an escaped backslash ends before the quote.
    assert.equal(read('{"a":1,"b":{"c":"d:\\"e\\":"},"f":[{"g":null}]}'), undefined);
    assert.equal(read('{"a\\\\":1,"b":"\\\\"}'), undefined);
    assert.match(read('{"a":1,"b":{"c":"d:\\"a\\":"},"f":[{"g":null,"g":1}]}')!, /same key more than once/);
    // The same key, once escaped: the same key to every parser.
    assert.match(read('{"name":1,"\\u006eame":2}')!, /same key more than once/);
    // Keys of sibling and nested objects are their own.
    assert.equal(read('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":{"a":1}}'), undefined);
    assert.match(ambiguity(JSON.parse('{"a":1,"a":2}'), '{"a":1,"a":2}')!, /same key more than once/);
    assert.match(ambiguity({ tool: 1, Tool: 2 })!, /differ only in case \(\["tool","Tool"\]\)/);
    assert.match(ambiguity({ x: [{ ſ: 1, s: 2 }] })!, /differ only in case/);
    // Two keys that both need folding, to one fold; and keys that fold to themselves beside others.
    assert.match(ambiguity({ a: 1, Tool: 2, TOOL: 3 })!, /differ only in case \(\["Tool","TOOL"\]\)/);
    assert.match(ambiguity({ É: 1, é: 2 })!, /differ only in case/);
    assert.equal(ambiguity({ é: 1, e: 2, isError: true, inputSchema: {} }), undefined);
    assert.equal(
      ambiguity(
        { inputSchema: {}, isError: false, name: 'x' },
        '{"inputSchema":{},"isError":false,"name":"x"}',
      ),
      undefined,
    );
  });

  it('a key given twice is found however colons, quotes and backslashes sit in the strings around it', () => {
    // Texts written here, key by key, so the test knows which objects give a key twice (by its decoded
    // value: a key may be written with an escape). Strings are full of colons, escaped quotes and
    // backslashes, and colons are spaced, so the cheap colon count and the full scan both get exercised.
    type Tree =
      | { kind: 'obj'; pairs: [string, boolean, Tree][] }
      | { kind: 'arr'; items: Tree[] }
      | { kind: 'str'; s: string };
    const piece = fc.constantFrom('a', 'b', ':', '\\', '"', ' ', 'x:y', '":', '\\":', '\\\\');
    const str = fc.array(piece, { maxLength: 6 }).map((p) => p.join(''));
    const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
      t: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        str.map((s) => ({ kind: 'str' as const, s })),
        fc.array(tie('t'), { maxLength: 3 }).map((items) => ({ kind: 'arr' as const, items })),
        fc
          .array(fc.tuple(fc.constantFrom('k', 'id', 'n:m', 'q"', 'z\\'), fc.boolean(), tie('t')), {
            maxLength: 4,
          })
          .map((pairs) => ({ kind: 'obj' as const, pairs })),
      ),
    })).t;
    const space = fc.constantFrom('', ' ', '\n  ');
    const write = (t: Tree, gap: string): { text: string; twice: boolean } => {
      if (t.kind === 'str') return { text: JSON.stringify(t.s), twice: false };
      const parts = (t.kind === 'arr' ? t.items : t.pairs.map((p) => p[2])).map((c) => write(c, gap));
      let twice = parts.some((p) => p.twice);
      if (t.kind === 'arr') return { text: `[${parts.map((p) => p.text).join(',')}]`, twice };
      const seen = new Set<string>();
      const members = t.pairs.map(([k, escape], i) => {
        if (seen.has(k)) twice = true;
        seen.add(k);
        // The same key, once with its first character escaped.
        const key = escape
          ? `"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(k).slice(2)}`
          : JSON.stringify(k);
        return `${key}${gap}:${gap}${parts[i]!.text}`;
      });
      return { text: `{${members.join(',')}}`, twice };
    };
    fc.assert(
      fc.property(tree, space, (t, gap) => {
        const { text, twice } = write({ kind: 'obj', pairs: [['root', false, t]] }, gap);
        const found = ambiguity(JSON.parse(text), text);
        assert.equal(found !== undefined, twice, text);
        if (twice) assert.match(found!, /same key more than once/);
      }),
      { numRuns: 3000 },
    );
  });
});
