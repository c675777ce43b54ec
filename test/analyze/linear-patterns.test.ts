import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileEveryPattern, linear, linearGroup } from '../../src/analyze/linear.js';
// Every module that makes linear patterns at load (their automata are built on first use).
import '../../src/analyze/injection.js';
import '../../src/analyze/labels.js';
import '../../src/rules/context.js';

describe('linear patterns', () => {
  // First: the unsafe probes of the next test would be among "every pattern made so far".
  it("every analyzer's pattern compiles (each group's combined set too), so none can fail on a session's text", () => {
    assert.ok(compileEveryPattern() > 40);
  });

  it('are compiled on first use: a pattern RE2 cannot run is refused then, not when it is made', () => {
    const backreference = linear(/(a)\1/);
    assert.throws(() => backreference.test('aa'));
    const lookahead = linearGroup()(/x(?=y)/);
    assert.throws(() => lookahead.test('xy'));
    assert.throws(() => compileEveryPattern());
  });
});
