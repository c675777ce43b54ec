// Fencing on a fleet: an owner alive but cut off from the database past its lease. Another instance
// takes the state over (the lease's epoch one more), rebuilds the session from the record and goes on;
// when the cut-off owner's recorder finally commits its last batch, that session's rows are refused
// (counted, the recorder healthy) instead of colliding with the new owner's sequence or forking the
// chain, and `audit verify` passes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import {
  assertVerifies,
  echoCall as call,
  inProcessInstance as instance,
  suiteDatabase,
} from './fleet-helpers.js';

const SCOPE = 'k:fenced-session';

describe('fencing: a cut-off owner’s last batch after a takeover', () => {
  const db = suiteDatabase('fleet_fence');

  it(
    'the old owner’s rows of the session are refused and counted; the new owner’s chain goes on; verify passes',
    { timeout: 60_000 },
    async () => {
      // A's rows wait for an explicit flush (its link to the database is about to go).
      const { url, keyFile } = db;
      const a = await instance(url, keyFile, 60_000);
      const b = await instance(url, keyFile, 1);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const s = await a.openOwned(SCOPE);
        await call(s);
        await a.recorder.flush();

        // A is cut off: its renewals stop (as when they cannot reach the database). It still serves the
        // session it holds, and records what it sees, into a batch it cannot commit yet.
        await a.fleet.leases.close();
        const second = await call(s);

        // B takes the state over once the lease ran out, rebuilt from the record, and goes on.
        const continued = await b.takeOver(SCOPE);
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
        assert.equal(new Set(calls).size, 2, 'A’s first call, then B’s');
        assert.ok(!calls.includes(second), 'not A’s call after it was cut off');
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
