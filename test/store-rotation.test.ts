// Issue 13: `intentguard audit rotate-key` starts a new audit key with a chained hand-over record;
// sessions recorded under the old key still verify, and tampering on either side of it is still found.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { createMonitor } from '../src/index.js';
import { createRevocations } from '../src/identity/revocations.js';
import { verifyAudit } from '../src/store/audit.js';
import { openStore } from '../src/store/db.js';
import { createRecorder } from '../src/store/recorder.js';
import { rotateAuditKey } from '../src/store/rotate.js';
import { driveSession } from './helpers/session.js';

const run = promisify(execFile);
const tempDb = () => join(mkdtempSync(join(tmpdir(), 'ig-rot-')), 'intentguard.db');

async function record(path: string, n: number, tag: string): Promise<string[]> {
  const store = openStore(path);
  const monitor = createMonitor();
  const recorder = createRecorder(store, monitor);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await driveSession(monitor, { sub: `agent:${tag}${i}` }));
  createRevocations(store).revoke({ jti: `grant-${tag}` }, 'operator');
  await recorder.close();
  monitor.close();
  store.close();
  return ids;
}

const problems = (path: string) => {
  const store = openStore(path, { readonly: true });
  try {
    return verifyAudit(store).problems;
  } finally {
    store.close();
  }
};

describe('audit key rotation', () => {
  it('rotate-key: a new key and epoch, the old key kept, a hand-over row; old and new sessions verify', async () => {
    const path = tempDb();
    const old = await record(path, 2, 'a');
    const keyBefore = readFileSync(`${path}.key`, 'utf8');
    const r = await run(process.execPath, ['bin/intentguard.js', 'audit', 'rotate-key', path]);
    assert.match(r.stdout, /audit key rotated in .*: epoch 1 \(fingerprint [0-9a-f]{32}\)/);
    assert.equal(readFileSync(`${path}.key.0`, 'utf8'), keyBefore);
    assert.notEqual(readFileSync(`${path}.key`, 'utf8'), keyBefore);
    const fresh = await record(path, 2, 'b');
    assert.deepEqual(problems(path), []);
    const store = openStore(path, { readonly: true });
    assert.equal(store.epoch, 1);
    const handover = store.db
      .prepare("SELECT detail FROM audit_anchors WHERE kind = 'rotate'")
      .pluck()
      .get() as string;
    assert.equal(JSON.parse(handover).epoch, 1);
    store.close();
    // Tampering is found on both sides of the hand-over.
    const raw = new Database(path);
    raw.prepare('UPDATE sessions SET purpose = ? WHERE id = ?').run('nothing to see', old[0]);
    raw
      .prepare("UPDATE events SET raw = replace(raw, 'hello 1', 'hello X') WHERE session_id = ?")
      .run(fresh[1]);
    raw.close();
    const found = problems(path);
    assert.deepEqual(
      found.map((p) => [p.table, p.kind, p.session]),
      [
        ['sessions', 'edited', old[0]],
        ['events', 'edited', fresh[1]],
      ],
    );
  });

  it('the hand-over row cannot be edited or removed, and a missing retired key is named', async () => {
    const path = tempDb();
    await record(path, 1, 'a');
    rotateAuditKey(openStore(path), Date.now());
    await record(path, 1, 'b');
    const edited = join(mkdtempSync(join(tmpdir(), 'ig-rot-')), 'intentguard.db');
    for (const ext of ['', '.key', '.key.0', '.anchor'])
      if (existsSync(`${path}${ext}`)) copyFileSync(`${path}${ext}`, `${edited}${ext}`);
    const raw = new Database(edited);
    raw.exec(
      `UPDATE audit_anchors SET detail = replace(detail, '"sessions":1', '"sessions":2') WHERE kind = 'rotate'`,
    );
    raw.close();
    assert.ok(
      problems(edited).some((p) => p.table === 'audit_anchors' && p.kind === 'edited'),
      JSON.stringify(problems(edited)),
    );
    rmSync(`${path}.key.0`);
    const p = problems(path).find((x) => x.table === 'sessions');
    assert.match(p?.detail ?? '', /no audit key for this row's epoch/);
  });

  it('rotate-key is refused while another process records into the database', async () => {
    const path = tempDb();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/record-hold-child.ts', path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          if (String(c).includes('READY')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`child exited (${code})`)));
      });
      assert.throws(
        () => rotateAuditKey(openStore(path), Date.now()),
        (e: { code?: string; message: string }) =>
          e.code === 'ERR_STORE' && /are recording into/.test(e.message),
      );
      assert.ok(!existsSync(`${path}.key.0`), 'nothing rotated');
    } finally {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
  });

  it('rotate-key is refused on a record that does not verify', async () => {
    const path = tempDb();
    await record(path, 1, 'a');
    const raw = new Database(path);
    raw.exec(`UPDATE decisions SET action = 'allow'`);
    raw.close();
    assert.throws(
      () => rotateAuditKey(openStore(path), Date.now()),
      (e: { code?: string; message: string }) => e.code === 'ERR_STORE' && /does not verify/.test(e.message),
    );
  });
});
