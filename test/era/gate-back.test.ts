// The era gate on a server's answer (src/mrtr/gate.ts, `back`): a 2026-07-28 server marks every ordinary
// result `resultType: "complete"`; such a result is neither a task nor an input round, so it is decided
// at once — no promise, no microtask hop on the per-message path (the carriers' fast path) — while a
// task or an input round still goes the asynchronous way (owner claimed, inputRequests shown).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMonitor, parseIntent } from '../../src/index.js';
import { META } from '../../src/era/keys.js';
import { createEraGate } from '../../src/mrtr/gate.js';
import { deriveStateKey } from '../../src/mrtr/state.js';
import { observeThrough } from '../../src/mrtr/tap-hook.js';

const intent = parseIntent({ purpose: 'research', tools: '*' });

function session() {
  const gate = createEraGate({ key: deriveStateKey(Buffer.alloc(32, 7)) });
  const monitor = createMonitor({ approver: gate.approver() });
  const s = monitor.open({ intent, identity: { sub: 'agent', jti: 'jti-1' } });
  let n = 0;
  return {
    call: async () => {
      const id = `r${n++}`;
      const out = await observeThrough(gate, s, 'c2s', {
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'search',
          arguments: {},
          _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} },
        },
      });
      assert.ok(out.forward, JSON.stringify(out.answer));
      return id;
    },
    answer: (id: string, result: Record<string, unknown>) =>
      observeThrough(gate, s, 's2c', { jsonrpc: '2.0', id, result }),
    close: () => monitor.close(),
  };
}

describe('era gate: a server answer', () => {
  it('a "complete" result is decided synchronously and passes as it came', async () => {
    const a = session();
    try {
      const message = { resultType: 'complete', content: [{ type: 'text', text: 'ok' }] };
      const out = a.answer(await a.call(), message);
      assert.ok(!(out instanceof Promise), 'decided without a promise');
      assert.equal((out.forward as { result: unknown }).result, message);
    } finally {
      a.close();
    }
  });

  it('a task result and an input round still take the asynchronous path, and are decided as before', async () => {
    const a = session();
    try {
      const task = a.answer(await a.call(), { resultType: 'task', taskId: 't-1', status: 'working' });
      assert.ok(task instanceof Promise);
      assert.equal(((await task).forward as { result: { taskId: string } }).result.taskId, 't-1');
      const round = a.answer(await a.call(), {
        resultType: 'input_required',
        inputRequests: { q: { method: 'roots/list', params: {} } },
      });
      assert.ok(round instanceof Promise);
      assert.ok((await round).forward, 'a harmless input round passes');
    } finally {
      a.close();
    }
  });
});
