import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createMonitor, intentPolicy, parseIntent } from '../src/index.js';
import { pruneSessions, verifyAudit } from '../src/store/audit.js';
import { openStore } from '../src/store/db.js';
import { recordingGuard } from '../src/store/guard.js';
import { listSessions, sessionTimeline } from '../src/store/queries.js';
import { createRecorder } from '../src/store/recorder.js';
import { driveSession } from './helpers/session.js';
import { waitFor } from './helpers/wait.js';

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'ig-db-')), 'intentguard.db');

async function recordSessions(path: string, n = 2) {
  const store = openStore(path);
  const monitor = createMonitor();
  const recorder = createRecorder(store, monitor);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await driveSession(monitor, { sub: `agent:${i}` }));
  await recorder.flush();
  await recorder.close();
  monitor.close();
  store.close();
  return ids;
}

describe('recording into SQLite', () => {
  it('records sessions, events with raw messages, decisions and alerts, and the outcome', async () => {
    const path = tempDb();
    const [id] = await recordSessions(path, 1);
    const store = openStore(path);
    const [row] = listSessions(store);
    assert.equal(row!.id, id);
    assert.equal(row!.sub, 'agent:0');
    assert.equal(row!.purpose, 'summarise my notes');
    assert.equal(row!.outcome, 'reauthorize');
    assert.equal(row!.calls, 4);
    assert.match(row!.status!, /^closed/);
    const t = sessionTimeline(store, id!)!;
    assert.deepEqual(
      t.entries.map((e) => e.seq),
      t.entries.map((_, i) => i),
    );
    const call = t.entries.find((e) => e.tool === 'send_email' && e.kind === 'request')!;
    assert.equal(call.action, 'reauthorize');
    assert.equal(call.findings[0]!.rule, 'intent/tool-not-approved');
    assert.equal((call.raw as { params: { name: string } }).params.name, 'send_email');
    assert.equal((store.db.prepare('SELECT count(*) n FROM alerts').get() as { n: number }).n, 1);
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('user_version', { simple: true }), 3);
    assert.deepEqual(verifyAudit(store).ok, true);
    store.close();
  });

  describe("tamper-evident audit: edits behind intentguard's back are found", () => {
    const tamper = async (sql: string, expect: { table: string; kind: string }) => {
      const path = tempDb();
      await recordSessions(path, 3);
      const raw = new Database(path);
      raw.exec(sql);
      raw.close();
      const store = openStore(path, { readonly: true });
      const report = verifyAudit(store);
      store.close();
      assert.equal(report.ok, false);
      assert.equal(report.problem!.table, expect.table);
      assert.equal(report.problem!.kind, expect.kind);
      return report.problem!;
    };
    it('an altered event', async () => {
      const p = await tamper(
        `UPDATE events SET raw = replace(raw, 'hello 1', 'hello X') WHERE rowid = (SELECT rowid FROM events WHERE raw LIKE '%hello 1%' LIMIT 1)`,
        { table: 'events', kind: 'edited' },
      );
      assert.ok(p.rowid > 0 && p.seq !== undefined);
    });
    it('a deleted event', async () => {
      const p = await tamper(
        `DELETE FROM events WHERE rowid = (SELECT rowid FROM events WHERE seq = 4 LIMIT 1)`,
        { table: 'events', kind: 'deleted' },
      );
      assert.equal(p.seq, 4);
    });
    it('events truncated from the end of an ended session', async () => {
      const p = await tamper(
        `DELETE FROM events WHERE rowid = (SELECT max(rowid) FROM events WHERE session_id = (SELECT id FROM sessions WHERE rowid = 1))`,
        { table: 'events', kind: 'truncated' },
      );
      assert.match(p.detail, /deleted from its end/);
    });
    it('an altered decision (allow rewritten)', async () => {
      await tamper(`UPDATE decisions SET action = 'allow' WHERE action = 'reauthorize'`, {
        table: 'decisions',
        kind: 'edited',
      });
    });
    it('an inserted decision (a copy of a genuine row, replayed later in the chain)', async () => {
      const p = await tamper(
        `INSERT INTO decisions (id, session_id, seq, time, action, enforced, call, tool, sub, intent_version, findings_json, approver, hash, prev_hash)
        SELECT 'forged', session_id, seq, time, action, enforced, call, tool, sub, intent_version, findings_json, approver, hash, prev_hash
        FROM decisions WHERE session_id = (SELECT id FROM sessions WHERE rowid = 1) ORDER BY rowid LIMIT 1`,
        { table: 'decisions', kind: 'inserted' },
      );
      assert.ok(p.rowid > 1);
    });
    it('a forged decision appended at the head of the chain', async () => {
      await tamper(
        `INSERT INTO decisions (id, session_id, seq, time, action, enforced, intent_version, findings_json, hash, prev_hash)
        SELECT 'forged', session_id, seq, time, 'allow', 0, 1, '[]', hash, hash FROM decisions ORDER BY rowid DESC LIMIT 1`,
        { table: 'decisions', kind: 'inserted' },
      );
    });
    it('a deleted session', async () => {
      await tamper(`DELETE FROM sessions WHERE rowid = 2`, { table: 'sessions', kind: 'deleted' });
    });
    it('a rewritten session outcome', async () => {
      await tamper(`UPDATE sessions SET outcome = 'allow' WHERE rowid = 1`, {
        table: 'sessions',
        kind: 'edited',
      });
    });
  });

  it('with a recorder attached each message is serialized once, and limits still hold: oversize, deep nesting, unserializable', async () => {
    const path = tempDb();
    const store = openStore(path);
    const monitor = createMonitor({ maxMessageBytes: 2048 });
    const recorder = createRecorder(store, monitor);
    const seen: { text?: string; bytes: number; kind: string; fault?: { code: string } }[] = [];
    monitor.events$.subscribe((e) => seen.push(e));
    const h = monitor.open({ intent: parseIntent({ purpose: 'p', tools: ['echo'] }) });
    const call = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'é "quoted" \n' } },
    };
    await h.observe('c2s', call);
    assert.equal(seen[0]!.text, JSON.stringify(call));
    assert.equal(
      seen[0]!.bytes,
      Buffer.byteLength(JSON.stringify(call)),
      'bytes of the exact text, escapes included',
    );
    const big = await h.observe('c2s', {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'x'.repeat(4096) } },
    });
    assert.equal(
      (big.answer as { error: { data: { code: string } } }).error.data.code,
      'ERR_MESSAGE_TOO_LARGE',
    );
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) deep = { d: deep };
    const nested = await h.observe('c2s', {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'echo', arguments: deep },
    });
    assert.equal(
      (nested.answer as { error: { data: { code: string } } }).error.data.code,
      'ERR_JSONRPC_INVALID',
    );
    const bigint = await h.observe('c2s', {
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'echo', arguments: { n: 10n } },
    });
    assert.equal(bigint.forward, undefined, 'a bigint is not forwarded');
    assert.equal(
      seen.find((e) => e.kind === 'invalid' && e.fault?.code === 'ERR_MESSAGE_TOO_LARGE')?.text,
      undefined,
      'an oversized body is not kept',
    );
    await recorder.flush();
    const raws = store.db.prepare('SELECT raw FROM events WHERE seq = 0').pluck().all() as string[];
    assert.deepEqual(raws, [JSON.stringify(call)]);
    assert.equal(verifyAudit(store).ok, true);
    await recorder.close();
    monitor.close();
    store.close();
  });

  it('records every field exactly, whatever characters a tool name or method holds', async () => {
    const path = tempDb();
    const store = openStore(path);
    const monitor = createMonitor({ policy: intentPolicy({ outsideTools: 'allow' }) });
    const recorder = createRecorder(store, monitor);
    const h = monitor.open({ intent: parseIntent({ purpose: 'p', tools: '*' }), lifecycle: false });
    const odd = 'tool\u0001with\u0002separators';
    await h.observe('c2s', {
      jsonrpc: '2.0',
      id: 'a\u0001b',
      method: 'tools/call',
      params: { name: odd, arguments: { s: '\u0001' } },
    });
    await h.observe('c2s', {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'plain', arguments: {} },
    });
    await h.observe('c2s', { jsonrpc: '2.0', method: 'notifications/x\u0002' });
    await recorder.flush();
    const rows = store.db
      .prepare('SELECT seq, kind, method, tool, call, msg_id, bytes, raw FROM events ORDER BY seq')
      .all() as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((r) => [r.seq, r.kind, r.method, r.tool, r.call, r.msg_id]),
      [
        [0, 'request', 'tools/call', odd, 0, JSON.stringify('a\u0001b')],
        [1, 'request', 'tools/call', 'plain', 1, '7'],
        // A method name with a control character is refused (a server might strip it), and recorded as it came.
        [2, 'invalid', null, null, null, null],
      ],
    );
    assert.equal(JSON.parse(rows[2]!.raw as string).method, 'notifications/x\u0002');
    assert.deepEqual(JSON.parse(rows[0]!.raw as string).params.name, odd);
    assert.equal(verifyAudit(store).ok, true);
    await recorder.close();
    monitor.close();
    store.close();
  });

  it('a new database, its write-ahead log and its key are readable by their owner only (the record holds every message in full)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-perm-'));
    const db = join(dir, 'ig.db');
    const store = openStore(db);
    const monitor = createMonitor();
    const recorder = createRecorder(store, monitor);
    await driveSession(monitor);
    await recorder.flush();
    const files = readdirSync(dir);
    assert.ok(files.includes('ig.db-wal') && files.includes('ig.db.key'), files.join(', '));
    for (const f of files) assert.equal((statSync(join(dir, f)).mode & 0o777).toString(8), '600', f);
    await recorder.close();
    monitor.close();
    store.close();
  });

  it('prune removes old sessions and leaves a chain that still verifies', async () => {
    const path = tempDb();
    await recordSessions(path, 3);
    const store = openStore(path);
    const removed = pruneSessions(store, Date.now() + 1000, Date.now());
    assert.equal(removed, 3);
    assert.equal(verifyAudit(store).ok, true);
    store.close();
    await recordSessions(path, 1);
    const again = openStore(path);
    assert.equal(verifyAudit(again).ok, true);
    assert.equal(listSessions(again).length, 1);
    again.close();
  });

  it('a full disk is reported clearly and calls are denied, not run unrecorded; recording resumes', async () => {
    const path = tempDb();
    const store = openStore(path);
    let recorderRef: ReturnType<typeof createRecorder> | undefined;
    const guard = recordingGuard({
      get healthy() {
        return recorderRef?.healthy ?? true;
      },
      get lastError() {
        return recorderRef?.lastError;
      },
    });
    const monitor = createMonitor({ policy: [intentPolicy(), guard] });
    // Inline: the page cap below is set on this connection; a worker has its own.
    const recorder = createRecorder(store, monitor, { retryMs: 20, thread: 'inline' });
    recorderRef = recorder;
    const errors: Error[] = [];
    recorder.errors$.subscribe((e) => errors.push(e));
    await driveSession(monitor, { drift: false, calls: 1 });
    await recorder.flush();
    // Cap the database at its current size: the next pages it needs are not there (SQLITE_FULL).
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    let failure: { code?: string } | undefined;
    for (let i = 0; i < 200 && !failure; i++) {
      await driveSession(monitor, { drift: false, calls: 5 }).catch(() => undefined);
      await recorder.flush().catch((e: { code?: string }) => {
        failure = e;
      });
    }
    assert.equal(failure?.code, 'ERR_STORE_FULL');
    assert.equal(recorder.healthy, false);
    assert.match(errors[0]!.message, /disk full/);
    const denied = await driveSession(monitor, { drift: false, calls: 1 }).then(
      () => 'ran',
      (e: unknown) => String((e as { data?: { code?: string } }).data?.code ?? e),
    );
    assert.equal(denied, 'ERR_RECORD_FAILED');
    store.db.pragma('max_page_count = 1073741823');
    await waitFor(() => recorder.healthy, 'recording to resume');
    assert.equal(await driveSession(monitor, { drift: false, calls: 1 }).then(() => 'ran'), 'ran');
    await recorder.close();
    // Nothing was lost: every session the monitor saw is recorded, and the chain verifies.
    assert.equal(verifyAudit(store).ok, true);
    monitor.close();
    store.close();
  });

  it('a locked database is reported clearly (ERR_STORE_LOCKED) and recording resumes when the lock goes', async () => {
    const path = tempDb();
    const store = openStore(path, { busyTimeoutMs: 20 });
    const monitor = createMonitor();
    const recorder = createRecorder(store, monitor, { retryMs: 20 });
    const other = new Database(path);
    other.exec('BEGIN EXCLUSIVE');
    await driveSession(monitor, { drift: false, calls: 1 });
    await assert.rejects(
      recorder.flush(),
      (e: { code?: string; message: string }) =>
        e.code === 'ERR_STORE_LOCKED' && /database is locked/.test(e.message),
    );
    assert.equal(recorder.healthy, false);
    other.exec('COMMIT');
    other.close();
    await waitFor(() => recorder.healthy && recorder.pending === 0, 'recording to resume');
    assert.equal(listSessions(store).length, 1);
    assert.equal(verifyAudit(store).ok, true);
    await recorder.close();
    monitor.close();
    store.close();
  });
});
