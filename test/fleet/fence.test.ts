// Fencing on a fleet: an owner alive but cut off from the database past its lease. Another instance
// takes the state over (the lease's epoch one more), rebuilds the session from the record and goes on;
// when the cut-off owner's recorder finally commits its last batch, that session's rows are refused
// (counted, the recorder healthy) instead of colliding with the new owner's sequence or forking the
// chain, and `audit verify` passes.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createMonitor, intentPolicy, parseIntent } from '../../src/index.js';
import { fleetSessions, type FleetSessions } from '../../src/fleet/sessions.js';
import type { SessionHandle } from '../../src/monitor/handle.js';
import { createPgRecorder, type PgRecorder } from '../../src/store/pg/recorder.js';
import { openPgStore, type PgStore } from '../../src/store/pg/store.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';
import { assertVerifies } from './fleet-helpers.js';

const intent = parseIntent({ purpose: 'echo things', tools: ['echo'] });
const SCOPE = 'k:fenced-session';

/** One instance in this process: its store, monitor, recorder and fleet sessions. */
async function instance(url: string, keyFile: string, flushDelayMs: number) {
  const store: PgStore = await openPgStore(url, { keyFile });
  const monitor = createMonitor({ policy: intentPolicy() });
  let fleet: FleetSessions | undefined;
  const recorder: PgRecorder = createPgRecorder(store, monitor, {
    flushDelayMs,
    fence: () => fleet && { owner: fleet.leases.owner, of: fleet.fence },
  });
  fleet = await fleetSessions(store, monitor, () => recorder.flush(), { ttlMs: 300 });
  return {
    store,
    monitor,
    recorder,
    fleet,
    async close() {
      await fleet.close();
      await recorder.close().catch(() => undefined);
      monitor.close();
      await store.close();
    },
  };
}

let n = 0;
const call = (s: SessionHandle) =>
  s.observe('c2s', {
    jsonrpc: '2.0',
    id: ++n,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: `call ${n}` } },
  });

describe('fencing: a cut-off owner’s last batch after a takeover', () => {
  let server: TempPostgres;
  let url: string;
  let keyFile: string;
  before(async () => {
    server = await startPostgres();
    url = server.createDatabase('fleet_fence');
    keyFile = join(mkdtempSync(join(tmpdir(), 'ig-fence-')), 'audit.key');
  });
  after(() => server?.stop());

  it(
    'the old owner’s rows of the session are refused and counted; the new owner’s chain goes on; verify passes',
    { timeout: 60_000 },
    async () => {
      // A's rows wait for an explicit flush (its link to the database is about to go).
      const a = await instance(url, keyFile, 60_000);
      const b = await instance(url, keyFile, 1);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        assert.equal(await a.fleet.own(SCOPE, undefined, intent), true);
        const s = a.monitor.open({ intent, transport: 'http-stateless' });
        await a.fleet.register(
          { id: s.id, scope: SCOPE, kind: 'stateless', handle: 'key' },
          undefined,
          intent,
        );
        await call(s);
        await a.recorder.flush();

        // A is cut off: its renewals stop (as when they cannot reach the database). It still serves the
        // session it holds, and records what it sees, into a batch it cannot commit yet.
        await a.fleet.leases.close();
        await call(s);

        // B takes the state over once the lease ran out, rebuilt from the record, and goes on.
        let continued: SessionHandle | undefined;
        b.fleet.adopt('stateless', (_row, handle) => {
          continued = handle;
          return true;
        });
        while ((await b.fleet.own(SCOPE, undefined, intent)) !== true)
          await new Promise((r) => setTimeout(r, 50));
        assert.ok(continued, 'B continued the session');
        assert.equal(continued.id, s.id);
        await call(continued);
        await b.recorder.flush();
        const epochs = await admin.query<{ epoch: number }>('SELECT epoch FROM state_leases');
        assert.deepEqual(
          epochs.rows.map((r) => Number(r.epoch)),
          [2],
        );

        // A's link is back: its last batch is committed, without the rows of a session it lost.
        await a.recorder.flush();
        assert.ok(a.recorder.fenced > 0, 'the stale rows were refused');
        assert.equal(a.recorder.healthy, true);

        const seqs = await admin.query<{ seq: number; raw: string }>(
          'SELECT seq, raw FROM events WHERE session_id = $1 ORDER BY seq',
          [s.id],
        );
        assert.deepEqual(
          seqs.rows.map((r) => Number(r.seq)),
          seqs.rows.map((_, i) => i),
          'one sequence: the new owner’s',
        );
        const calls = seqs.rows.flatMap((r) => /call \d+/.exec(r.raw) ?? []);
        assert.deepEqual([...new Set(calls)], [`call ${n - 2}`, `call ${n}`], 'A’s first call, then B’s');
        continued.close('done');
        await b.recorder.flush();
      } finally {
        await admin.end();
        await a.close();
        await b.close();
      }
      await assertVerifies(url, keyFile);
    },
  );
});
