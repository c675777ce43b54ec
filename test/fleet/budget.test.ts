// A grant's budget across a fleet: two intentguard instances (separate processes) on one real
// PostgreSQL count one budget. Calls of one grant spread over both: exactly `budget.calls` pass; at
// once from both: never more, and the shared count stops at the budget. A store that cannot count
// denies the call (fail closed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { createMonitor, parseIntent, tap } from '../../src/index.js';
import { fleetBudget } from '../../src/fleet/budget.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { demoServer } from '../helpers/servers.js';
import { connectAgent as connect, startTwoInstances, type TwoInstances } from './fleet-helpers.js';
/** One echo call: true when it ran (its text came back), false when refused in any way. */
const passes = (c: Client, text: string) =>
  c.callTool({ name: 'echo', arguments: { text } }).then(
    (r) => r.isError !== true && JSON.stringify(r.content).includes(text),
    () => false,
  );
const budgeted = (calls: number) => ({ purpose: 'echo things', tools: ['echo'], budget: { calls } });

describe('fleet budgets (two instances, one PostgreSQL)', () => {
  let fleet: TwoInstances;
  before(async () => {
    fleet = await startTwoInstances('fleet_budget');
  });
  after(() => fleet?.stop());

  it('one grant with budget.calls N, its calls alternating between A and B: exactly N pass', async () => {
    const N = 5;
    const token = await fleet.kit.grant('agent:budget-1', budgeted(N));
    const [ca, cb] = await Promise.all([connect(fleet.a.url, token), connect(fleet.b.url, token)]);
    try {
      const ran: boolean[] = [];
      // Each instance alone sees at most ceil((N + 3) / 2) calls: under N, so only the shared count stops them.
      for (let i = 0; i < N + 3; i++) ran.push(await passes(i % 2 === 0 ? ca : cb, `call ${i}`));
      assert.deepEqual(ran, [...Array<boolean>(N).fill(true), ...Array<boolean>(3).fill(false)]);
    } finally {
      await Promise.allSettled([ca.close(), cb.close()]);
    }
  });

  it('the same grant called at once on both: never more than N pass, and the shared count stops at N', async () => {
    const N = 6;
    const token = await fleet.kit.grant('agent:budget-2', budgeted(N));
    const jti = decodeJwt(token).jti!;
    const [ca, cb] = await Promise.all([connect(fleet.a.url, token), connect(fleet.b.url, token)]);
    const admin = new pg.Client({ connectionString: fleet.url });
    await admin.connect();
    try {
      const ran = await Promise.all(
        Array.from({ length: 2 * N }, (_, i) => passes(i % 2 === 0 ? ca : cb, `burst ${i}`)),
      );
      assert.ok(ran.filter(Boolean).length <= N, `${ran.filter(Boolean).length} calls ran`);
      const usage = await admin.query<{ calls: string }>(
        'SELECT calls FROM grant_usage WHERE scope LIKE $1',
        [`%${jti}"`],
      );
      assert.equal(Number(usage.rows[0]?.calls), N);
    } finally {
      await Promise.allSettled([ca.close(), cb.close(), admin.end()]);
    }
  });

  it('a store that cannot count the budget denies the call (ERR_BUDGET_UNAVAILABLE)', async () => {
    const own = fleet.server.createDatabase('fleet_budget_down');
    const store = await openPgStore(own, { keyFile: fleet.kit.auditKey });
    const monitor = createMonitor({ policy: await fleetBudget(store) });
    const decisions: { action: string; codes: (string | undefined)[] }[] = [];
    monitor.decisions$.subscribe((d) => {
      if (d.tool && d.kind === 'request')
        decisions.push({ action: d.action, codes: d.findings.map((f) => f.code) });
    });
    const [c, s] = InMemoryTransport.createLinkedPair();
    await demoServer().connect(s);
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      tap(c, monitor, {
        side: 'client',
        intent: parseIntent(budgeted(10)),
        identity: { sub: 'agent:down', jti: 'grant-down', expiresAt: Date.now() + 600_000 },
      }),
    );
    try {
      assert.equal(await passes(client, 'up'), true);
      await store.pg.pool.end();
      assert.equal(await passes(client, 'down'), false);
      assert.equal(decisions.at(-1)?.action, 'deny');
      assert.ok(decisions.at(-1)?.codes.includes('ERR_BUDGET_UNAVAILABLE'), JSON.stringify(decisions));
    } finally {
      await client.close().catch(() => undefined);
      monitor.close();
    }
  });
});
