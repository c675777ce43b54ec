// Issue 18: `replay --visibility approved` replays recorded sessions as behind a proxy started with
// `--visibility approved`, so an operator sees which calls hiding tools would refuse before switching
// it on. Real CLI processes, a real SQLite recording of a real SDK client/server session.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createMonitor } from '../../src/index.js';
import { openStore } from '../../src/store/db.js';
import { createRecorder } from '../../src/store/recorder.js';
import { driveSession } from '../helpers/session.js';

const exec = promisify(execFile);
const bin = resolve('bin/intentguard.js');
const cli = (args: string[]) =>
  exec(process.execPath, [bin, ...args]).then(
    (r) => ({ ...r, code: 0 }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
const dir = mkdtempSync(join(tmpdir(), 'ig-replay-visibility-'));

interface Result {
  id: string;
  outcome: string;
  findings: { rule: string; action: string; call: number | null }[];
}
const results = (stdout: string): Result[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Result);

describe('replay --visibility', () => {
  it('replays a recording as behind --visibility approved: a call of a tool not approved is denied as hidden', async () => {
    // Recorded in monitor mode: three approved echo calls, then send_email (not approved), delivered.
    const db = join(dir, 'recorded.db');
    const store = openStore(db);
    const monitor = createMonitor({ mode: 'monitor' });
    const recorder = createRecorder(store, monitor);
    await driveSession(monitor, { sub: 'agent:one' });
    await recorder.close();
    monitor.close();
    store.close();

    const plain = await cli(['replay', db, '--json']);
    assert.equal(plain.code, 0, plain.stderr);
    const [before] = results(plain.stdout);
    assert.ok(!before!.findings.some((f) => f.rule === 'intent/tool-hidden'), plain.stdout);
    assert.notEqual(before!.outcome, 'deny');

    for (const jobs of ['1', '2']) {
      const hidden = await cli(['replay', db, '--json', '--visibility', 'approved', '--jobs', jobs]);
      assert.equal(hidden.code, 0, hidden.stderr);
      const [after] = results(hidden.stdout);
      assert.equal(after!.outcome, 'deny', `--jobs ${jobs}: ${hidden.stdout}`);
      const finding = after!.findings.find((f) => f.rule === 'intent/tool-hidden');
      assert.ok(finding, hidden.stdout);
      assert.equal(finding.action, 'deny');
      assert.equal(finding.call, 3, 'the fourth call, send_email');
    }

    // The same from an exported bundle file, and in --diff: the recorded decision would change.
    const file = join(dir, 'recorded.jsonl');
    assert.equal((await cli(['export', '--db', db, '--out', file])).code, 0);
    const fromFile = await cli(['replay', file, '--json', '--visibility', 'approved']);
    assert.equal(results(fromFile.stdout)[0]!.outcome, 'deny', fromFile.stdout);
    const diff = await cli(['replay', db, '--diff', '--visibility', 'approved']);
    assert.match(diff.stdout, /call #3 send_email: \w+ → deny \[[^\]]*intent\/tool-hidden/);

    const bad = await cli(['replay', db, '--visibility', 'hidden']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ERR_CONFIG: --visibility must be approved or all, got "hidden"/);
  });
});
