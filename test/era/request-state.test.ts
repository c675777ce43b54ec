// MRTR re-authorization state: signed, bound, expiring, single-use across processes (issue 15).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { memoryLedger, sqliteLedger } from '../../src/mrtr/ledger.js';
import {
  approvalAnswer,
  checkPromptCapability,
  inputRequired,
  stripOwn,
  APPROVAL_KEY,
} from '../../src/mrtr/prompt.js';
import {
  argumentsDigest,
  deriveStateKey,
  isOwnState,
  signState,
  verifyState,
  type StateBinding,
} from '../../src/mrtr/state.js';

const key = deriveStateKey(Buffer.alloc(32, 7));
const binding: StateBinding = {
  principal: 'agent-1',
  session: 'ig-1',
  method: 'tools/call',
  tool: 'write_file',
  args: argumentsDigest({ path: '/tmp/a', content: 'x' }),
  intentVersion: 1,
};
const T0 = 1_000_000;

describe('mrtr: requestState', () => {
  it('verifies once and is refused as replayed after', () => {
    const ledger = memoryLedger();
    const { state } = signState(key, binding, 'ap-1', T0, 60_000);
    assert.ok(isOwnState(state));
    const first = verifyState(key, state, binding, T0 + 1, ledger);
    assert.deepEqual(
      { ...first, nonce: undefined },
      { approval: 'ap-1', exp: T0 + 60_000, nonce: undefined },
    );
    assert.match((first as { nonce: string }).nonce, /^[\w-]{22}$/);
    const again = verifyState(key, state, binding, T0 + 2, ledger);
    assert.equal('code' in again && again.code, 'ERR_REQUEST_STATE_REPLAYED');
  });

  it('an expired state is refused and burns nothing', () => {
    const ledger = memoryLedger();
    const { state } = signState(key, binding, 'ap-1', T0, 1000);
    const r = verifyState(key, state, binding, T0 + 1000, ledger);
    assert.equal('code' in r && r.code, 'ERR_REQUEST_STATE_EXPIRED');
  });

  it('a state is bound to principal, session, tool, arguments (key order free) and intent version', () => {
    const { state } = signState(key, binding, 'ap-1', T0, 60_000);
    const reordered = { ...binding, args: argumentsDigest({ content: 'x', path: '/tmp/a' }) };
    const ledger = memoryLedger();
    for (const [field, value] of [
      ['principal', 'agent-2'],
      ['session', 'ig-2'],
      ['tool', 'read_file'],
      ['method', 'prompts/get'],
      ['args', argumentsDigest({ path: '/etc/passwd', content: 'x' })],
      ['intentVersion', 2],
    ] as const) {
      const r = verifyState(key, state, { ...binding, [field]: value }, T0 + 1, ledger);
      assert.equal('code' in r && r.code, 'ERR_REQUEST_STATE_MISMATCH', field);
    }
    // Mismatches burned nothing: the rightful retry still redeems it.
    assert.equal('approval' in verifyState(key, state, reordered, T0 + 1, ledger), true);
  });

  it('another key, or any altered character, is refused as invalid (property)', () => {
    const { state } = signState(key, binding, 'ap-1', T0, 60_000);
    const other = deriveStateKey(Buffer.alloc(32, 8));
    const r = verifyState(other, state, binding, T0, memoryLedger());
    assert.equal('code' in r && r.code, 'ERR_REQUEST_STATE_INVALID');
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: state.length - 1 }),
        fc.constantFrom(...'ABCabc012-_.=+/'),
        (i, c) => {
          fc.pre(state[i] !== c);
          const altered = state.slice(0, i) + c + state.slice(i + 1);
          const v = verifyState(key, altered, binding, T0, memoryLedger());
          assert.equal('code' in v && v.code, 'ERR_REQUEST_STATE_INVALID');
        },
      ),
    );
    for (const junk of ['ig1.', 'ig1..', 'ig1.a.b.c', 'ig1.' + 'x'.repeat(40)]) {
      const j = verifyState(key, junk, binding, T0, memoryLedger());
      assert.equal('code' in j && j.code, 'ERR_REQUEST_STATE_INVALID', junk);
    }
  });

  const dir = mkdtempSync(join(tmpdir(), 'ig-mrtr-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('single use holds across two connections to one SQLite file (two processes, later instances)', () => {
    const file = join(dir, 'ledger.db');
    const a = new Database(file);
    const b = new Database(file);
    try {
      const la = sqliteLedger(a);
      const lb = sqliteLedger(b);
      const { state } = signState(key, binding, 'ap-1', T0, 60_000);
      assert.equal('approval' in verifyState(key, state, binding, T0, la), true);
      const r = verifyState(key, state, binding, T0, lb);
      assert.equal('code' in r && r.code, 'ERR_REQUEST_STATE_REPLAYED');
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('mrtr: the prompt and the retry', () => {
  it('asks only a client whose request declares elicitation; url mode needs elicitation.url', () => {
    assert.equal(checkPromptCapability({ elicitation: {} }, { mode: 'form' }), undefined);
    assert.equal(checkPromptCapability({ elicitation: { form: {} } }, { mode: 'form' }), undefined);
    const none = checkPromptCapability({}, { mode: 'form' })!;
    assert.equal(none.rpc, -32021);
    assert.deepEqual(none.data, { requiredCapabilities: { elicitation: { form: {} } } });
    assert.equal(checkPromptCapability({ elicitation: { url: {} } }, { mode: 'form' })?.rpc, -32021);
    const url = { mode: 'url', url: 'https://approve.example/a/1' } as const;
    assert.equal(checkPromptCapability({ elicitation: {} }, url)?.code, 'ERR_ELICITATION_UNSUPPORTED');
    assert.equal(checkPromptCapability({ elicitation: { url: {} } }, url), undefined);
  });

  it('builds an input_required result, reads the answer, strips only its own material', () => {
    const r = inputRequired('approve write_file?', 'ig1.x.y', { mode: 'form' });
    assert.equal(r.resultType, 'input_required');
    assert.equal((r.inputRequests[APPROVAL_KEY] as { method: string }).method, 'elicitation/create');
    const yes = { inputResponses: { [APPROVAL_KEY]: { action: 'accept', content: { approve: true } } } };
    assert.equal(approvalAnswer(yes, { mode: 'form' }), 'approved');
    assert.equal(
      approvalAnswer(
        { inputResponses: { [APPROVAL_KEY]: { action: 'accept', content: { approve: false } } } },
        { mode: 'form' },
      ),
      'declined',
    );
    assert.equal(
      approvalAnswer({ inputResponses: { [APPROVAL_KEY]: { action: 'decline' } } }, { mode: 'form' }),
      'declined',
    );
    assert.equal(approvalAnswer({}, { mode: 'form' }), 'absent');
    assert.equal(approvalAnswer(yes, { mode: 'url', url: 'https://x' }), 'absent');
    const params = {
      name: 'write_file',
      arguments: {},
      requestState: 'ig1.a.b',
      inputResponses: {
        [APPROVAL_KEY]: { action: 'accept' },
        upstream_q: { action: 'accept', content: { a: 1 } },
      },
    };
    assert.deepEqual(stripOwn(params), {
      name: 'write_file',
      arguments: {},
      inputResponses: { upstream_q: { action: 'accept', content: { a: 1 } } },
    });
    const upstream = { name: 'w', requestState: 'server-opaque', inputResponses: { q: {} } };
    assert.equal(stripOwn(upstream), upstream);
    assert.deepEqual(stripOwn({ name: 'w', requestState: 'ig1.z', inputResponses: { [APPROVAL_KEY]: {} } }), {
      name: 'w',
    });
  });
});
