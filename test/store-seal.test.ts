// Issue 13: a session whose recording process dies is sealed at the next start of intentguard on its
// database, from its chained rows, as "ended without seal at event N"; until then it is reported.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verifyAudit } from '../src/store/audit.js';
import { openStore } from '../src/store/db.js';
import { listSessions } from '../src/store/queries.js';

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'ig-seal-')), 'intentguard.db');

/** Start the child that records one held session; resolves with its session id once committed. */
async function holding(path: string): Promise<{ child: ChildProcess; session: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/record-hold-child.ts', path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const session = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      const m = /READY (\S+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code})`)));
  });
  return { child, session };
}

const kill = async (child: ChildProcess) => {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
};

describe('sessions that ended without their seal', () => {
  it('a session of a live process is live: not sealed by another process opening the database, not a problem for verify', async () => {
    const path = tempDb();
    const { child, session } = await holding(path);
    try {
      const store = openStore(path);
      assert.deepEqual(store.sealedAtOpen, []);
      const r = verifyAudit(store);
      assert.deepEqual(r.problems, []);
      assert.deepEqual(r.live, [session]);
      assert.equal(r.ok, true);
      store.close();
    } finally {
      await kill(child);
    }
  });

  it('after kill -9 it is reported unsealed, then sealed at the next open from its chained rows: outcome, calls and drift recomputed, "ended without seal at event N"', async () => {
    const path = tempDb();
    const { child, session } = await holding(path);
    await kill(child);
    const ro = openStore(path, { readonly: true });
    const before = verifyAudit(ro);
    ro.close();
    assert.deepEqual(before.problems, []);
    assert.deepEqual(
      before.unsealed.map((u) => u.session),
      [session],
    );
    // Six events: three calls, two results, and intentguard's answer to the call it stopped.
    assert.match(before.unsealed[0]!.detail, /ended without seal at event 6: process \d+ died/);
    const store = openStore(path);
    assert.deepEqual(store.sealedAtOpen, [session]);
    const [row] = listSessions(store);
    assert.equal(row!.status, 'ended without seal at event 6');
    assert.equal(row!.outcome, 'reauthorize');
    assert.equal(row!.calls, 3);
    assert.equal(row!.drift, 0.333);
    const after = verifyAudit(store);
    assert.deepEqual(after.problems, []);
    assert.equal(after.ok, false, 'a session sealed after the fact stays reported');
    assert.match(
      after.unsealed[0]!.detail,
      /ended without seal at event 6: its process ended without sealing it; sealed after the fact/,
    );
    store.close();
    // Sealed once: the next open changes nothing.
    const again = openStore(path);
    assert.deepEqual(again.sealedAtOpen, []);
    again.close();
  });
});
