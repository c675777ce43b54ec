// The README is the reference for error codes and rule fields: keep both in step with the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '../src/index.js';
import { VOCABULARY } from '../src/rules/vocabulary.js';

const readme = readFileSync('README.md', 'utf8');
const section = (name: string) => {
  const m = readme.match(new RegExp(`<!-- ${name}:start -->([\\s\\S]*?)<!-- ${name}:end -->`));
  assert.ok(m, `README has a ${name} section`);
  return m[1]!;
};
const rows = (text: string) =>
  [...text.matchAll(/^\| `([^`]+)` \|(.*)\|$/gm)].map(
    (m) => [m[1]!, m[2]!.split('|').map((c) => c.trim())] as const,
  );

describe('README reference tables', () => {
  it('lists every error code with its meaning, and no other', () => {
    const documented = new Map(rows(section('errors')).map(([code, cells]) => [code, cells[0]]));
    assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_CODES).sort());
    for (const [code, meaning] of Object.entries(ERROR_CODES))
      assert.equal(documented.get(code), meaning, code);
  });

  it('lists every rule field with its type and meaning, and no other', () => {
    const documented = new Map(rows(section('fields')).map(([field, cells]) => [field, cells]));
    assert.deepEqual([...documented.keys()].sort(), Object.keys(VOCABULARY).sort());
    for (const [field, { type, doc }] of Object.entries(VOCABULARY)) {
      assert.equal(documented.get(field)![0]!.replace(/`/g, ''), type, field);
      assert.equal(documented.get(field)![1], doc, field);
    }
  });
});
