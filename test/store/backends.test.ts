// The store commands that change the record itself — `audit rotate-key` and `import` — run the same
// way on both backends, from one suite: the SQLite file and a real PostgreSQL (test/helpers/postgres.ts).
// Each case is run as a user runs it (bin/intentguard.js in its own process) and checked by `audit verify`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createMonitor, intentPolicy } from '../../src/index.js';
import { openBackend } from '../../src/store/backend.js';
import { sqliteConsoleData } from '../../src/console/data.js';
import { pgConsoleData } from '../../src/console/pg-data.js';
import { pgApprovalLedger } from '../../src/fleet/approvals.js';
import { digest } from '../../src/lib/canonical.js';
import { openStore } from '../../src/store/db.js';
import type { GrantLedger } from '../../src/store/grant-requests.js';
import { createPgRecorder } from '../../src/store/pg/recorder.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { driveSession } from '../helpers/session.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';

const exec = promisify(execFile);

/** One backend as the tests see it: a fresh store, its key file, and raw SQL on it (to tamper). */
interface Backend {
  readonly kind: 'sqlite' | 'postgres';
  fresh(name: string): { location: string; key: string };
  sql(location: string, text: string, params?: unknown[]): Promise<void>;
}

const dir = () => mkdtempSync(join(tmpdir(), 'ig-backends-'));

const sqlite: Backend = {
  kind: 'sqlite',
  fresh() {
    const db = join(dir(), 'intentguard.db');
    return { location: db, key: `${db}.key` };
  },
  async sql(location, text, params = []) {
    const raw = new Database(location);
    try {
      raw.prepare(text.replace(/\$\d+/g, '?')).run(...params);
    } finally {
      raw.close();
    }
  },
};

function postgres(server: () => TempPostgres): Backend {
  return {
    kind: 'postgres',
    fresh(name) {
      return { location: server().createDatabase(name), key: join(dir(), 'fleet.key') };
    },
    async sql(location, text, params = []) {
      const c = new pg.Client({ connectionString: location });
      await c.connect();
      try {
        await c.query(text, params);
      } finally {
        await c.end();
      }
    },
  };
}

const cli = (key: string, args: string[]) =>
  exec(process.execPath, ['bin/intentguard.js', ...args], {
    env: { ...process.env, INTENTGUARD_FROM_SOURCE: '1', INTENTGUARD_AUDIT_KEY: key },
    timeout: 120_000,
  }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

/** Record `n` sessions (each with a drifting call) and revoke one grant, as a proxy and an operator would. */
async function record(store: { location: string; key: string }, n: number, tag: string): Promise<string[]> {
  const backend = await openBackend(store.location, { keyFile: store.key });
  const monitor = createMonitor({ policy: intentPolicy() });
  const recorder = backend.record(monitor, { flushDelayMs: 1 });
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i++) ids.push(await driveSession(monitor, { calls: 2, sub: `agent:${tag}${i}` }));
    await recorder.close();
  } finally {
    monitor.close();
    await backend.close();
  }
  const revoked = await cli(store.key, ['revoke', `grant-${tag}`, '--store', store.location]);
  assert.equal(revoked.code, 0, revoked.stderr);
  return ids;
}

const verify = async (store: { location: string; key: string }) => {
  const r = await cli(store.key, ['audit', 'verify', '--store', store.location, '--json']);
  assert.ok(r.stdout.trim(), `audit verify printed no report: ${r.stderr}`);
  return {
    code: r.code,
    report: JSON.parse(r.stdout) as {
      problems: { table: string; kind: string; session?: string }[];
      checked: Record<string, number>;
    },
  };
};

describe('rotate-key and import on both backends', () => {
  let server: TempPostgres | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());
  const backends: Backend[] = [sqlite, postgres(() => server!)];

  for (const b of backends) {
    describe(b.kind, () => {
      it('rotate-key: a new epoch, the old key kept, a chained hand-over; rows on both sides verify and tampering on either side is found', async () => {
        const store = b.fresh(`rot_${b.kind}`);
        const old = await record(store, 2, 'a');
        const keyBefore = readFileSync(store.key, 'utf8');
        const r = await cli(store.key, ['audit', 'rotate-key', '--store', store.location]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /audit key rotated in .*: epoch 1 \(fingerprint [0-9a-f]{32}\)/);
        assert.doesNotMatch(r.stdout, /postgres:\/\/[^ ]*:[^ ]*@/, 'no password printed');
        assert.equal(readFileSync(`${store.key}.0`, 'utf8'), keyBefore, 'the retired key is kept beside it');
        assert.notEqual(readFileSync(store.key, 'utf8'), keyBefore);
        assert.match(readFileSync(store.key, 'utf8'), / 1\n$/, 'the new key file names its epoch');
        const fresh = await record(store, 2, 'b');
        const ok = await verify(store);
        assert.equal(ok.code, 0, JSON.stringify(ok.report.problems));
        assert.equal(ok.report.checked.sessions, 4);
        assert.equal(ok.report.checked.revocations, 2);
        assert.ok(ok.report.checked.anchors >= 1, 'the hand-over row is in the anchors chain');
        // Tampering is found on both sides of the hand-over.
        await b.sql(store.location, 'UPDATE sessions SET purpose = $1 WHERE id = $2', [
          'nothing to see',
          old[0],
        ]);
        await b.sql(
          store.location,
          "UPDATE events SET raw = replace(raw, 'hello 1', 'hello X') WHERE session_id = $1",
          [fresh[1]],
        );
        const bad = await verify(store);
        assert.equal(bad.code, 1);
        assert.deepEqual(
          bad.report.problems.map((p) => [p.table, p.kind, p.session]),
          [
            ['sessions', 'edited', old[0]],
            ['events', 'edited', fresh[1]],
          ],
        );
      });

      it('rotate-key is refused on a record that does not verify (nothing rotated)', async () => {
        const store = b.fresh(`rotbad_${b.kind}`);
        await record(store, 1, 'a');
        await b.sql(store.location, "UPDATE decisions SET action = 'allow'");
        const r = await cli(store.key, ['audit', 'rotate-key', '--store', store.location]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /ERR_STORE\b.*does not verify/);
        assert.doesNotMatch(readFileSync(store.key, 'utf8'), / 1\n$/, 'the key is unchanged');
      });

      it('import: bundles recorded into the store, chained after what is there; a malformed line is named and fails the run', async () => {
        // Bundles exported from another store (a SQLite file).
        const source = sqlite.fresh('src');
        const ids = await record(source, 2, 'x');
        const file = join(dir(), 'sessions.jsonl');
        const exported = await cli(source.key, ['export', '--store', source.location, '--out', file]);
        assert.equal(exported.code, 0, exported.stderr);
        const store = b.fresh(`imp_${b.kind}`);
        const fresh = b.fresh(`imp2_${b.kind}`);
        await record(store, 1, 'a');
        const r = await cli(store.key, ['import', file, '--store', store.location, '--no-pack']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /imported 2 sessions into /);
        assert.doesNotMatch(r.stdout, /postgres:\/\/[^ ]*:[^ ]*@/, 'no password printed');
        const ok = await verify(store);
        assert.equal(ok.code, 0, JSON.stringify(ok.report.problems));
        assert.equal(ok.report.checked.sessions, 3, 'the imported sessions join the chain');
        const listed = await cli(store.key, ['sessions', '--store', store.location, '--json']);
        assert.equal(listed.stdout.trim().split('\n').length, 3);
        // A malformed line: named with its line number, the rest imported, exit 1.
        const again = await cli(source.key, ['export', '--store', source.location, '--session', ids[0]!]);
        const mixed = join(dir(), 'mixed.jsonl');
        writeFileSync(mixed, `{"not": "a bundle"}\n${again.stdout}`);
        const partly = await cli(fresh.key, ['import', mixed, '--store', fresh.location, '--no-pack']);
        assert.equal(partly.code, 1, partly.stderr);
        assert.match(partly.stderr, /mixed\.jsonl:1: ERR_BUNDLE_LINE/);
        assert.match(partly.stdout, /imported 1 sessions .*; 1 malformed lines/);
        assert.equal((await verify(fresh)).code, 0);
      });
    });
  }

  describe('audit verify walks the grant requests chain', () => {
    /** The console's grant ledger on a store (as the console writes it). */
    const ledgerOn = async (b: Backend, store: { location: string; key: string }) => {
      if (b.kind === 'sqlite') {
        const s = openStore(store.location);
        return { grants: sqliteConsoleData(s).grants, close: async () => s.close() };
      }
      const s = await openPgStore(store.location, { keyFile: store.key });
      const unused = async () => {
        throw new Error('not used here');
      };
      const data = await pgConsoleData(s, { decide: unused, revoke: unused, approvals: pgApprovalLedger(s) });
      return { grants: data.grants, close: () => s.close() };
    };
    const request = async (grants: GrantLedger, id: string, sub: string) => {
      const intent = { purpose: `grant ${id}`, tools: ['echo'] };
      const now = Date.now();
      await grants.append(
        {
          id,
          sub,
          act: null,
          intent_json: JSON.stringify(intent),
          why: 'a reviewer must look',
          requested_at: now,
          expires_at: now + 600_000,
        },
        {
          id,
          session_id: 'console',
          decision_id: null,
          sub,
          tool: 'grant',
          args_digest: digest(intent, 64),
          intent_version: 1,
          reason: 'grant request',
          requested_at: now,
          expires_at: now + 600_000,
        },
      );
    };
    /** Two requests, grq-1 and grq-2, written by the console's ledger. */
    const twoRequests = async (b: Backend, store: { location: string; key: string }) => {
      const l = await ledgerOn(b, store);
      try {
        await request(l.grants, 'grq-1', 'agent:one');
        await request(l.grants, 'grq-2', 'agent:two');
      } finally {
        await l.close();
      }
    };
    for (const b of backends)
      it(`${b.kind}: an edited grant request row fails audit verify, naming it`, async () => {
        const store = b.fresh(`grq_${b.kind}`);
        await record(store, 1, 'a');
        await twoRequests(b, store);
        const ok = await verify(store);
        assert.equal(ok.code, 0, JSON.stringify(ok.report.problems));
        assert.equal(ok.report.checked.grantRequests, 2);
        await b.sql(
          store.location,
          "UPDATE grant_requests SET intent_json = replace(intent_json, 'echo', 'send_email') WHERE id = 'grq-1'",
        );
        const bad = await verify(store);
        assert.equal(bad.code, 1);
        assert.deepEqual(
          bad.report.problems.map((p) => [p.table, p.kind]),
          [['grant_requests', 'edited']],
        );
      });
    it('sqlite: grant request rows cut from the end of the chain are found (the head anchor keeps its head)', async () => {
      const store = sqlite.fresh('grq_cut');
      await record(store, 1, 'a');
      await twoRequests(sqlite, store);
      assert.equal((await verify(store)).code, 0);
      // The newest request deleted (its approvals row left as it is): what is left still chains.
      await sqlite.sql(store.location, "DELETE FROM grant_requests WHERE id = 'grq-2'");
      const cut = await verify(store);
      assert.equal(cut.code, 1);
      assert.deepEqual(
        cut.report.problems.map((p) => [p.table, p.kind]),
        [['grant_requests', 'truncated']],
      );
    });
  });

  describe('postgres: a fleet and a rotation', () => {
    it('rotate-key is refused while an instance is connected, and a host left with the retired key cannot write or reopen', async () => {
      const store = postgres(() => server!).fresh('rot_fleet');

      await record(store, 1, 'a');
      // A second host's copy of the key, made before the rotation (never updated).
      const stale = join(dir(), 'host-b.key');
      copyFileSync(store.key, stale);
      const running = await openBackend(store.location, { keyFile: store.key });
      try {
        const refused = await cli(store.key, ['audit', 'rotate-key', '--store', store.location]);
        assert.notEqual(refused.code, 0);
        assert.match(
          refused.stderr,
          /ERR_STORE\b.*1 intentguard processes have .* open to record: stop every instance/,
        );
      } finally {
        await running.close();
      }
      // An instance the check cannot see (its notice was lost with its connection) still holds the old key.
      const hidden = await openPgStore(store.location, { keyFile: stale, readonly: true });
      const monitor = createMonitor({ policy: intentPolicy() });
      const recorder = createPgRecorder(hidden, monitor, { flushDelayMs: 1, retryMs: 50 });
      try {
        const r = await cli(store.key, ['audit', 'rotate-key', '--store', store.location]);
        assert.equal(r.code, 0, r.stderr);
        await driveSession(monitor, { calls: 1, sub: 'agent:stale' });
        await assert.rejects(recorder.flush(), (e: { code?: string }) => e.code === 'ERR_STORE_KEY');
        assert.equal(recorder.healthy, false, 'unhealthy: the recording guard fails its calls closed');
        assert.equal((recorder.lastError as { code?: string } | undefined)?.code, 'ERR_STORE_KEY');
      } finally {
        await recorder.close().catch(() => undefined);
        monitor.close();
        await hidden.close();
      }
      const reopened = await cli(stale, ['sessions', '--store', store.location]);
      assert.notEqual(reopened.code, 0);
      assert.match(reopened.stderr, /ERR_STORE_KEY.*rotated to epoch 1/);
      const ok = await verify(store);
      assert.equal(ok.code, 0, JSON.stringify(ok.report.problems));
      assert.equal(ok.report.checked.sessions, 1, 'nothing the stale host recorded was written');
    });
  });
});
