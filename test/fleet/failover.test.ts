// Stateless (2026-07-28) sessions across a fleet: one owner instance at a time, holding the session's
// lease; a request landing on another instance is served by the owner; when the owner is killed
// (SIGKILL, mid-session), another instance takes the lease over once it runs out and rebuilds the
// session from its record, so what the session learnt (provenance) and what it spent (budget) hold.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { META } from '../../src/era/keys.js';
import { assertVerifies, startTwoInstances, type TwoInstances } from './fleet-helpers.js';
import { INVOICE_ACCOUNT, STEERED_ACCOUNT, v2Bank } from './v2-bank.js';
import { postV2 } from '../helpers/v2-http.js';

type Answer = {
  status: number;
  body: {
    result?: { resultType?: string; content?: unknown };
    error?: { code: number; message: string; data?: { code?: string } };
  };
};
let n = 0;
/** One stateless tools/call POST with a bearer grant, as a 2026-07-28 client sends it. */
const call = (url: string, token: string, name: string, args: Record<string, unknown>): Promise<Answer> =>
  postV2(
    url,
    {
      id: `f${n++}`,
      method: 'tools/call',
      params: {
        name,
        arguments: args,
        _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: { elicitation: {} } },
      },
    },
    { authorization: `Bearer ${token}` },
  );
const ran = (a: Answer) =>
  a.body.result?.resultType === 'complete' ||
  (a.body.result !== undefined && a.body.result.resultType === undefined);

describe('stateless sessions across a fleet (two instances, one PostgreSQL)', () => {
  let fleet: TwoInstances<Awaited<ReturnType<typeof v2Bank>>>;
  before(async () => {
    fleet = await startTwoInstances('fleet_failover', { upstream: v2Bank });
  });
  after(() => fleet?.stop());

  it('the owner killed mid-session: the instance taking over keeps its provenance and its budget', async () => {
    const { a, b, kit, url, upstream: bank } = fleet;
    const token = await kit.grant('agent:payer', {
      purpose: 'Pay the invoice from Blue Hills',
      tools: ['read_invoice', 'send_money'],
      budget: { calls: 4 },
    });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Call 1, on A: A owns the session now. The invoice steers towards another account.
      const invoice = await call(a.url, token, 'read_invoice', {});
      assert.ok(ran(invoice), JSON.stringify(invoice));
      assert.match(JSON.stringify(invoice.body), new RegExp(STEERED_ACCOUNT));
      // Call 2, landing on B: served by A, the owner (one session, one lease).
      const honest = await call(b.url, token, 'send_money', { recipient: INVOICE_ACCOUNT, amount: 80 });
      assert.ok(ran(honest), JSON.stringify(honest));
      const named = await admin.query<{ id: string }>('SELECT id FROM fleet_sessions');
      assert.equal(named.rows.length, 1);
      const id = named.rows[0]!.id;

      await a.kill();

      // Call 3, on B: A is gone; B takes the lease over once it runs out and rebuilds the session from
      // its record. The steered account came from a tool result: held for approval, not paid.
      const steered = await call(b.url, token, 'send_money', { recipient: STEERED_ACCOUNT, amount: 300 });
      assert.equal(steered.body.result?.resultType, 'input_required', JSON.stringify(steered));
      assert.ok(
        !bank.received.some((m) => JSON.stringify(m).includes(`"recipient":"${STEERED_ACCOUNT}"`)),
        'the steered payment never reached the server',
      );
      // Call 4 is the last of the budget; call 5 is past it, whichever instance counted the others.
      assert.ok(ran(await call(b.url, token, 'read_invoice', {})));
      const over = await call(b.url, token, 'read_invoice', {});
      assert.equal(ran(over), false, JSON.stringify(over));
      assert.match(String(over.body.error?.message), /budget/);

      // One session in the record, continued by B under its id, and the record still verifies.
      const sessions = await admin.query<{ id: string }>('SELECT id FROM sessions');
      assert.deepEqual(
        sessions.rows.map((r) => r.id),
        [id],
      );
      const seqs = await admin.query<{ seq: number }>(
        'SELECT seq FROM events WHERE session_id = $1 ORDER BY seq',
        [id],
      );
      assert.deepEqual(
        seqs.rows.map((r) => Number(r.seq)),
        seqs.rows.map((_, i) => i),
        'one sequence of events, no gap, no repeat',
      );
      await b.stop();
      await assertVerifies(url, kit.auditKey);
    } finally {
      await admin.end();
    }
  });
});
