// Exactly once across a fleet: two intentguard instances (separate processes) on one real PostgreSQL.
// MRTR requestState: the same states presented to both at once are redeemed by exactly one of them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pg from 'pg';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { createMonitor, parseIntent, tap } from '../../src/index.js';
import { META } from '../../src/era/keys.js';
import { pgLedger } from '../../src/fleet/ledger.js';
import { createEraGate } from '../../src/mrtr/gate.js';
import { APPROVAL_KEY } from '../../src/mrtr/prompt.js';
import { deriveStateKey } from '../../src/mrtr/state.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { startTwoInstances, type FleetKit, type Instance, type TwoInstances } from './fleet-helpers.js';

const exec = promisify(execFile);
const cli = (args: string[]) =>
  exec(process.execPath, ['bin/intentguard.js', ...args], {
    env: { ...process.env, INTENTGUARD_FROM_SOURCE: '1' },
  }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
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
  let fleet: TwoInstances;
  let kit: FleetKit;
  let url: string;
  let a: Instance, b: Instance;
  before(async () => {
    fleet = await startTwoInstances('fleet_once');
    ({ kit, url, a, b } = fleet);
  });
  after(() => fleet?.stop());

  it('a held call is decided exactly once from any host, and released on the instance holding it', async () => {
    const token = await kit.grant('agent:held');
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(b.url), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const held = client
        .callTool({ name: 'send_email', arguments: { to: 'bob@example.com', body: 'hi' } }, undefined, {
          timeout: 120_000,
        })
        .then(
          (r) => ({ ok: true, r }),
          (e: Error) => ({ ok: false, r: e.message }),
        );
      let id: string | undefined;
      for (let i = 0; i < 400 && !id; i++) {
        const r = await admin.query<{ id: string }>("SELECT id FROM approvals WHERE status = 'pending'");
        id = r.rows[0]?.id;
        if (!id) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(id, 'the held call is in the shared approvals table');
      // Two operators decide at once, from two processes: one approve, one deny. Exactly one wins.
      const [yes, no] = await Promise.all([
        cli(['approve', id, '--store', url, '--by', 'alice']),
        cli(['deny', id, '--store', url, '--by', 'bob']),
      ]);
      assert.equal([yes, no].filter((r) => r.code === 0).length, 1, `${yes.stderr} / ${no.stderr}`);
      const loser = yes.code === 0 ? no : yes;
      assert.match(loser.stderr, /ERR_APPROVAL_DONE|already/);
      const answer = await held;
      // B released the call as the winner said.
      assert.equal(answer.ok, yes.code === 0, JSON.stringify(answer));
      const sealed = await admin.query<{ status: string; approver: string; decision_hash: string | null }>(
        'SELECT status, approver, decision_hash FROM approvals WHERE id = $1',
        [id],
      );
      assert.equal(sealed.rows.length, 1);
      // And deciding it again later is refused.
      const late = await cli(['approve', id, '--store', url]);
      assert.notEqual(late.code, 0);
      assert.match(late.stderr, /ERR_APPROVAL_DONE|already/);
    } finally {
      await client.close().catch(() => undefined);
      await admin.end();
    }
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
