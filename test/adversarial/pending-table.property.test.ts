// Issue 11 §2, as a property: over random interleavings of requests (duplicate ids, refused, held for
// approval), cancellations, answers (genuine and spoofed, results and errors) in both directions, the
// monitor's pending table is exactly what the peers received and have not answered, every answer is
// analysed as the kind of request its peer actually received under that id, and every request gets
// exactly one answer. The peers are modelled; the monitor, its reducer and its policy are the real ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createMonitor, intentPolicy, parseIntent } from '../../src/index.js';
import type { Direction, SessionEvent } from '../../src/model/events.js';
import type { Outcome } from '../../src/model/decision.js';

type Id = number | string;
type Op =
  | {
      t: 'request';
      dir: Direction;
      id: Id;
      what: 'call' | 'held' | 'ping' | 'badargs' | 'badparams' | 'list';
    }
  | { t: 'cancel'; dir: Direction; id: Id }
  | { t: 'answer'; dir: Direction; id: Id; error: boolean }
  | { t: 'approve'; yes: boolean };

const ID = fc.constantFrom<Id>(0, 1, 2, '1');
const DIR = fc.constantFrom<Direction>('c2s', 's2c');
const OP: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('request' as const),
      dir: DIR,
      id: ID,
      what: fc.constantFrom('call', 'held', 'ping', 'badargs', 'badparams', 'list') as fc.Arbitrary<'call'>,
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const), dir: DIR, id: ID }) },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('answer' as const), dir: DIR, id: ID, error: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('approve' as const), yes: fc.boolean() }) },
);

const k = (id: Id) => `${typeof id}:${id}`;
const other = (d: Direction): Direction => (d === 'c2s' ? 's2c' : 'c2s');

function message(op: Extract<Op, { t: 'request' }>): Record<string, unknown> {
  const base = { jsonrpc: '2.0', id: op.id };
  // Only the client calls tools; a server's request is a ping or a roots/list.
  if (op.dir === 's2c') return { ...base, method: op.what === 'list' ? 'roots/list' : 'ping' };
  switch (op.what) {
    case 'call':
      return { ...base, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } };
    case 'held':
      return { ...base, method: 'tools/call', params: { name: 'write_file', arguments: { path: '/x' } } };
    case 'badargs':
      return { ...base, method: 'tools/call', params: { name: 'echo', arguments: [] } };
    case 'badparams':
      return { ...base, method: 'ping', params: 'not params' };
    case 'list':
      return { ...base, method: 'tools/list' };
    default:
      return { ...base, method: 'ping' };
  }
}

/** What a peer received and has not answered, by id: method, tool and the monitor's seq of it. */
type Received = Map<string, { id: Id; method: string; tool?: string; seq: number }>;

export async function run(ops: Op[]): Promise<void> {
  const approvals: Array<{ seq: number; resolve: (yes: boolean) => void }> = [];
  const monitor = createMonitor({
    policy: intentPolicy(),
    approver: ({ event }) => new Promise<boolean>((resolve) => approvals.push({ seq: event.seq, resolve })),
  });
  const events: SessionEvent[] = [];
  monitor.events$.subscribe((e) => events.push(e));
  const s = monitor.open({ intent: parseIntent({ purpose: 'p', tools: ['echo'] }) });
  // What each peer holds: `received[d]` = requests travelling in `d` that arrived and are unanswered.
  const received: Record<Direction, Received> = { c2s: new Map(), s2c: new Map() };
  // Requests each peer sent minus answers it got, by id (every request gets exactly one answer).
  const owed: Record<Direction, Map<string, number>> = { c2s: new Map(), s2c: new Map() };
  const held = new Map<number, Promise<void>>();
  const bump = (d: Direction, id: Id, n: number) => owed[d].set(k(id), (owed[d].get(k(id)) ?? 0) + n);

  /** Deliver an outcome as a carrier does, into the model of the peers. */
  const apply = (dir: Direction, outcome: Outcome) => {
    const f = outcome.forward as { id?: Id; method?: string; result?: unknown; error?: unknown } | undefined;
    if (f !== undefined) {
      if (f.method !== undefined && f.id !== undefined) {
        assert.ok(
          !received[dir].has(k(f.id)),
          `a peer got a second request under id ${String(f.id)} while the first is unanswered`,
        );
        received[dir].set(k(f.id), {
          id: f.id,
          method: f.method,
          tool: outcome.event?.tool,
          seq: outcome.event!.seq,
        });
      } else if (f.id !== undefined && f.method === undefined) bump(other(dir), f.id, -1);
    }
    const a = outcome.answer as { id?: Id } | undefined;
    if (a?.id !== undefined && a.id !== null) bump(dir, a.id, -1);
  };

  const observe = async (dir: Direction, m: Record<string, unknown>) => {
    const out = await s.observe(dir, m);
    apply(dir, out);
    return out;
  };

  const pendingOf = () => [...s.state().pending.values()].map((p) => `${p.dir}|${k(p.id)}|${p.seq}`).sort();
  const heldSeqs = () => new Set(approvals.map((x) => x.seq));

  /** The invariant: the table holds exactly what the peers received unanswered, plus held requests. */
  const check = () => {
    const table = [...s.state().pending.values()];
    const waiting = heldSeqs();
    for (const p of table) {
      const r = received[p.dir].get(k(p.id));
      if (waiting.has(p.seq) && r?.seq !== p.seq) continue;
      assert.ok(r, `pending ${p.dir} ${String(p.id)} (seq ${p.seq}) was never delivered to its peer`);
      assert.equal(
        r.seq,
        p.seq,
        `pending ${p.dir} ${String(p.id)} is another request than the one its peer got`,
      );
      assert.equal(r.method, p.method);
    }
    for (const d of ['c2s', 's2c'] as const) {
      for (const r of received[d].values())
        assert.ok(
          table.some((p) => p.dir === d && p.seq === r.seq),
          `the monitor lost ${d} request ${String(r.id)}`,
        );
    }
  };

  // The lifecycle first: initialize and its answer.
  await observe('c2s', {
    jsonrpc: '2.0',
    id: 'init',
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
  });
  bump('c2s', 'init', 1);
  received.c2s.delete(k('init'));
  await observe('s2c', {
    jsonrpc: '2.0',
    id: 'init',
    result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 's', version: '1' } },
  });
  await observe('c2s', { jsonrpc: '2.0', method: 'notifications/initialized' });

  const answer = async (dir: Direction, id: Id, error: boolean) => {
    // `dir` is the direction of the answer: it answers requests that travelled the other way.
    const r = received[other(dir)].get(k(id));
    const m = error
      ? { jsonrpc: '2.0', id, error: { code: -32000, message: 'no' } }
      : { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'r' }] } };
    if (r) received[other(dir)].delete(k(id));
    const before = events.length;
    const out = await observe(dir, m);
    const ev = events[before]!;
    if (r) {
      // A genuine answer: analysed as the kind of request the peer received under this id.
      assert.equal(ev.request?.seq, r.seq, 'matched to the request its peer is answering');
      assert.equal(ev.method, r.method);
      assert.equal(ev.tool, r.tool);
      if (r.method === 'tools/call')
        assert.ok(ev.tool !== undefined, 'a tools/call answer is analysed as a tool result');
      assert.equal(out.forward, m, 'a genuine answer is delivered');
    } else {
      // A spoofed or replayed answer is never delivered as it is (at most intentguard's error in its place).
      const f = out.forward as { error?: { data?: { code?: string } } } | undefined;
      assert.ok(
        f === undefined || f.error?.data?.code === 'ERR_UNMATCHED_RESPONSE',
        'a spoofed answer is not delivered',
      );
    }
  };

  for (const op of ops) {
    if (op.t === 'request') {
      const m = message(op);
      bump(op.dir, op.id, 1);
      const before = pendingOf();
      const decided = s.observe(op.dir, m);
      if (decided instanceof Promise && op.what === 'held' && op.dir === 'c2s') {
        // Held for approval: the pipeline goes on; the outcome is applied when the approval ends.
        await new Promise((r) => setImmediate(r));
        const seq = events.findLast((e) => e.raw === m)?.seq ?? -1;
        held.set(
          seq,
          decided.then((o) => apply(op.dir, o)),
        );
      } else {
        const out = await decided;
        apply(op.dir, out);
        if (out.forward === undefined)
          assert.deepEqual(pendingOf(), before, 'a refused request leaves the pending table as it was');
      }
    } else if (op.t === 'cancel') {
      await observe(op.dir, {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: op.id },
      });
    } else if (op.t === 'answer') {
      await answer(op.dir, op.id, op.error);
    } else if (approvals.length > 0) {
      const a = approvals.shift()!;
      a.resolve(op.yes);
      await held.get(a.seq);
      held.delete(a.seq);
    }
    check();
  }
  // Drain: every approval ends, every peer answers what it holds; then nothing is owed to anyone.
  for (const a of approvals.splice(0)) {
    a.resolve(true);
    await held.get(a.seq);
  }
  for (const d of ['c2s', 's2c'] as const)
    for (const r of [...received[d].values()]) await answer(other(d), r.id, false);
  check();
  assert.deepEqual(pendingOf(), [], 'nothing left pending');
  for (const d of ['c2s', 's2c'] as const)
    for (const [id, n] of owed[d])
      assert.equal(n, 0, `${d} request(s) ${id}: each gets exactly one answer (owed ${n})`);
  monitor.close();
}

describe('the pending table (issue 11 §2, property)', () => {
  it('a spoofed early answer to a held call, then a denial: the client gets one answer, not two (found by the property)', async () => {
    for (const yes of [false, true])
      await run([
        { t: 'request', dir: 'c2s', id: 0, what: 'held' },
        { t: 'answer', dir: 's2c', id: 0, error: false },
        { t: 'approve', yes },
      ]);
  });
  it('pending table agrees with what the peers received, over random interleavings of requests, duplicates, refusals, holds, cancellations and answers', async () => {
    await fc.assert(fc.asyncProperty(fc.array(OP, { maxLength: 40 }), run), { numRuns: 300 });
  });

  it('a tools/list answer without a tools array ends its request (it used to restore the whole previous state)', async () => {
    await run([
      { t: 'request', dir: 'c2s', id: 0, what: 'list' },
      { t: 'answer', dir: 's2c', id: 0, error: false },
    ]);
  });

  it("the issue's probe as a sequence: call 7, ping 7, ping 7 with [] params, then the server answers", async () => {
    await run([
      { t: 'request', dir: 'c2s', id: 1, what: 'call' },
      { t: 'request', dir: 'c2s', id: 1, what: 'ping' },
      { t: 'request', dir: 'c2s', id: 1, what: 'badparams' },
      { t: 'request', dir: 'c2s', id: 1, what: 'ping' },
      { t: 'answer', dir: 's2c', id: 1, error: false },
    ]);
  });
});
