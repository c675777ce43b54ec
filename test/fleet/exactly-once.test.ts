// Exactly once across a fleet: two intentguard instances (separate processes) on one real PostgreSQL.
// MRTR requestState: the same states presented to both at once are redeemed by exactly one of them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { createMonitor, parseIntent, tap } from '../../src/index.js';
import { META } from '../../src/era/keys.js';
import { pgLedger } from '../../src/fleet/ledger.js';
import { createEraGate } from '../../src/mrtr/gate.js';
import { APPROVAL_KEY } from '../../src/mrtr/prompt.js';
import { deriveStateKey } from '../../src/mrtr/state.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { httpUpstream } from '../helpers/http-upstream.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';
import { fleetKit, startInstance, type FleetKit, type Instance } from './fleet-helpers.js';

const intent = parseIntent({ purpose: 'echo things', tools: ['echo'] });
const meta = {
  [META.protocolVersion]: '2026-07-28',
  [META.clientCapabilities]: { elicitation: {} },
  [META.clientInfo]: { name: 'raw-agent', version: '1' },
};
type Msg = {
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; data?: { code?: string } };
};

describe('exactly once across two instances on one PostgreSQL', () => {
  let server: TempPostgres;
  let kit: FleetKit;
  let upstream: Awaited<ReturnType<typeof httpUpstream>>;
  let url: string;
  let a: Instance, b: Instance;
  before(async () => {
    server = await startPostgres();
    url = server.createDatabase('fleet_once');
    kit = await fleetKit();
    upstream = await httpUpstream({ json: true });
    [a, b] = await Promise.all([
      startInstance(kit, url, upstream.url),
      startInstance(kit, url, upstream.url),
    ]);
  });
  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await upstream?.close();
    server?.stop();
  });

  it('MRTR through the era gate: a state another instance redeemed first does not approve here', async () => {
    const store = await openPgStore(url, { keyFile: kit.auditKey });
    const gate = createEraGate({ key: deriveStateKey(store.key), ledger: await pgLedger(store) });
    const monitor = createMonitor({ approver: gate.approver() });
    const inner = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', 'test/era/fixtures/v2-server.ts'],
      cwd: process.cwd(),
      stderr: 'ignore',
    });
    const t = tap(inner as unknown as Transport, monitor, { side: 'client', intent, era: gate });
    const answers = new Map<unknown, (m: Msg) => void>();
    t.onmessage = (m) => answers.get((m as Msg).id)?.(m as Msg);
    await t.start();
    let n = 0;
    const call = (params: Record<string, unknown>) => {
      const id = `r${n++}`;
      const p = new Promise<Msg>((resolve) => answers.set(id, resolve));
      void t.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { ...params, _meta: meta } } as never);
      return p;
    };
    const approve = { [APPROVAL_KEY]: { action: 'accept', content: { approve: true } } };
    const args = { title: 't', body: 'b' };
    try {
      // One held call approved: runs (the ledger confirms the state fleet-wide first).
      const held = await call({ name: 'write_note', arguments: args });
      const ok = await call({
        name: 'write_note',
        arguments: args,
        inputResponses: approve,
        requestState: held.result!.requestState,
      });
      assert.equal(ok.result?.resultType, 'complete', JSON.stringify(ok));
      // Another: its nonce already in the shared ledger (another instance redeemed it): not approved here.
      const held2 = await call({ name: 'write_note', arguments: args });
      const state = held2.result!.requestState as string;
      const { nonce, exp } = JSON.parse(Buffer.from(state.split('.')[1]!, 'base64url').toString()) as {
        nonce: string;
        exp: number;
      };
      await store.pg.pool.query('INSERT INTO mrtr_redeemed (nonce, expires_at) VALUES ($1, $2)', [
        nonce,
        exp,
      ]);
      const refused = await call({
        name: 'write_note',
        arguments: args,
        inputResponses: approve,
        requestState: state,
      });
      assert.notEqual(refused.result?.resultType, 'complete', JSON.stringify(refused));
    } finally {
      await t.close();
      monitor.close();
      await store.close();
    }
  });

  it('MRTR: each requestState nonce is redeemed by exactly one instance when both get it at once', async () => {
    const nonces = Array.from({ length: 200 }, () => randomUUID());
    const [ra, rb] = await Promise.all([a.ask('redeem', { nonces }), b.ask('redeem', { nonces })]);
    const wa = ra.won as boolean[];
    const wb = rb.won as boolean[];
    assert.equal(wa.length, nonces.length);
    for (let i = 0; i < nonces.length; i++) assert.equal(wa[i] !== wb[i], true, `nonce ${i}: one winner`);
    // And a state redeemed once is refused ever after, on either.
    const again = await a.ask('redeem', { nonces: nonces.slice(0, 10) });
    assert.deepEqual(again.won, Array(10).fill(false));
  });
});
