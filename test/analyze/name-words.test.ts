// nameWords is a hand scanner since the two regexes it replaced backtracked quadratically on a run of
// capitals (test/adversarial/linear-analysis.test.ts, "tool names"). It must split every name exactly as
// they did, so tool profiles, and so every rule decision, stay the same.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { nameWords } from '../../src/analyze/categories.js';

/** The regex version it replaced (quadratic on long capital runs; fine on short names). */
const byRegex = (name: string): string[] =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

describe('nameWords', () => {
  it('splits camel case, capital runs, snake, kebab and dotted names', () => {
    assert.deepEqual(nameWords('EpicFHIRSearch'), ['epic', 'fhir', 'search']);
    assert.deepEqual(nameWords('sendEmail'), ['send', 'email']);
    assert.deepEqual(nameWords('files.delete_all-now'), ['files', 'delete', 'all', 'now']);
    assert.deepEqual(nameWords('get2FACode'), ['get2', 'fa', 'code']);
  });

  it('agrees with the regex splitter it replaced on every short name', () => {
    const alphabet = fc.constantFrom(...'aAbBzZ09_-. İé'.split(''));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 24 }), (chars) => {
        const name = chars.join('');
        assert.deepEqual(nameWords(name), byRegex(name));
      }),
      { numRuns: 3000 },
    );
  });
});
