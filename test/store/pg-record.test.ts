// Recording into PostgreSQL against a real server: batched, chained writes from several instances at once
// verify as one record; a store that goes away makes the recorder unhealthy (the guard fails closed), the
// batch is kept and written when the store is back; the readers (sessions, verify, prune) run on it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createMonitor, intentPolicy } from '../../src/index.js';
import { openBackend } from '../../src/store/backend.js';
import { listSessions } from '../../src/store/queries.js';
import { recordingGuard } from '../../src/store/guard.js';
import { driveSession } from '../helpers/session.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const keyFile = () => join(mkdtempSync(join(tmpdir(), 'ig-pgrec-')), 'audit.key');

describe('recording into PostgreSQL', () => {
  let server: TempPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());

  it('three instances record at once: every event once, every chain and seal verifies', async () => {
    const url = server.createDatabase('rec_fleet');
    const key = keyFile();
    const backends = await Promise.all([0, 1, 2].map(() => openBackend(url, { keyFile: key })));
    const monitors = backends.map(() => createMonitor({ policy: intentPolicy() }));
    const recorders = backends.map((b, i) => b.record(monitors[i]!, { flushDelayMs: 1 }));
    const sent = { n: 0 };
    const counted = monitors.map((m) => m.events$.subscribe(() => sent.n++));
    const ids = await Promise.all(
      monitors.flatMap((m, i) => [0, 1, 2].map((k) => driveSession(m, { calls: 2 + k, sub: `agent:${i}` }))),
    );
    await Promise.all(recorders.map((r) => r.flush()));
    const report = await backends[0]!.verify();
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.checked.sessions, ids.length);
    const view = await backends[1]!.read();
    try {
      const rows = listSessions(view.store, { limit: 100 });
      assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(ids));
      assert.ok(sent.n > ids.length * 4);
      assert.equal(report.checked.events, sent.n, 'events recorded = events sent');
    } finally {
      view.close();
    }
    counted.forEach((c) => c.unsubscribe());
    await Promise.all(recorders.map((r) => r.close()));
    monitors.forEach((m) => m.close());
    await Promise.all(backends.map((b) => b.close()));
  });

  it('the store going away: unhealthy, calls fail closed, the batch is kept and written on return', async () => {
    const url = server.createDatabase('rec_outage');
    const key = keyFile();
    const backend = await openBackend(url, { keyFile: key });
    let recorder!: ReturnType<typeof backend.record>;
    const monitor = createMonitor({
      policy: recordingGuard({
        get healthy() {
          return recorder.healthy;
        },
        get lastError() {
          return recorder.lastError;
        },
      }),
      mode: 'enforce',
    });
    recorder = backend.record(monitor, { flushDelayMs: 1, retryMs: 50 });
    const first = await driveSession(monitor, { calls: 1, drift: false });
    await recorder.flush();
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query('ALTER DATABASE rec_outage ALLOW_CONNECTIONS false');
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'rec_outage' AND pid <> pg_backend_pid()",
      );
      // A session while the store is gone: its rows are kept; the recorder turns unhealthy.
      const id = await driveSession(monitor, { calls: 1, drift: false });
      await waitFor(() => !recorder.healthy, 'the recorder to see the store gone', 30_000);
      assert.equal(
        (recorder.lastError as { code?: string } | undefined)?.code,
        'ERR_STORE_UNREACHABLE',
        recorder.lastError?.message,
      );
      // Enforce mode: a call now is refused rather than passed unrecorded (and that refusal is kept too).
      const refused = await driveSession(monitor, { calls: 1, drift: false }).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.match(String(refused?.message), /recording failed .*cannot reach the store/);
      await admin.query('ALTER DATABASE rec_outage ALLOW_CONNECTIONS true');
      await waitFor(() => recorder.healthy && recorder.pending === 0, 'the backlog written', 30_000);
      const report = await backend.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      const view = await backend.read();
      try {
        assert.ok(
          listSessions(view.store, { limit: 10 }).some((r) => r.id === id),
          'kept and written',
        );
        const denials = view.store.db
          .prepare(
            "SELECT count(*) AS n FROM decisions WHERE action = 'deny' AND findings_json LIKE '%core/recording-failed%'",
          )
          .get() as { n: number };
        assert.ok(denials.n >= 1, 'the refusal itself is recorded once the store is back');
      } finally {
        view.close();
      }
      assert.ok(first);
    } finally {
      await admin.query('ALTER DATABASE rec_outage ALLOW_CONNECTIONS true').catch(() => undefined);
      await admin.end();
      await recorder.close();
      monitor.close();
      await backend.close();
    }
  });
});
