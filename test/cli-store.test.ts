import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { createMonitor, parseIntent } from '../src/index.js';
import { openStore } from '../src/store/db.js';
import { createRecorder } from '../src/store/recorder.js';
import { driveSession } from './helpers/session.js';

const exec = promisify(execFile);
const cli = (args: string[]) =>
  exec(process.execPath, ['bin/intentguard.js', ...args]).catch(
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

async function recorded(): Promise<{ db: string; ids: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-cli-'));
  const db = join(dir, 'intentguard.db');
  const store = openStore(db);
  const monitor = createMonitor();
  const recorder = createRecorder(store, monitor);
  const ids = [
    await driveSession(monitor, { sub: 'agent:one' }),
    await driveSession(monitor, { sub: 'agent:two', drift: false }),
  ];
  await recorder.close();
  monitor.close();
  store.close();
  return { db, ids };
}

describe('CLI over a recorded database', () => {
  it('sessions lists identity, purpose, calls, outcome and drift; show prints the timeline', async () => {
    const { db, ids } = await recorded();
    const list = await cli(['sessions', '--db', db]);
    assert.match(list.stdout, /2 sessions/);
    assert.match(list.stdout, /agent:one\s+calls=4\s+REAUTHORIZE\s+drift=0\.25/);
    assert.match(list.stdout, /agent:two\s+calls=3\s+ALLOW/);
    const json = (await cli(['sessions', '--db', db, '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(json.length, 2);
    const show = await cli(['show', ids[0]!, '--db', db]);
    assert.match(show.stdout, /call send_email .*REAUTHORIZE/);
    assert.match(show.stdout, /intent\/tool-not-approved \(reauthorize\): outside approved tools/);
    assert.ok(!show.stdout.includes('\x1b['), 'plain when piped');
    const showJson = JSON.parse((await cli(['show', ids[0]!, '--db', db, '--json'])).stdout);
    assert.equal(showJson.session.id, ids[0]);
    const missing = await cli(['show', 'nope', '--db', db]);
    assert.equal((missing as { code?: number }).code, 2);
    assert.match(missing.stderr, /ERR_STORE: no session nope/);
  });

  it('audit verify passes, then names the row edited behind its back', async () => {
    const { db } = await recorded();
    assert.match(
      (await cli(['audit', 'verify', db])).stdout,
      /audit ok: 2 sessions, \d+ events, \d+ decisions/,
    );
    const raw = new Database(db);
    raw
      .prepare("UPDATE events SET raw = replace(raw, 'hello 2', 'hello X') WHERE raw LIKE '%hello 2%'")
      .run();
    raw.close();
    const r = await cli(['audit', 'verify', db]);
    assert.equal((r as { code?: number }).code, 1);
    assert.match(r.stdout, /audit FAILED: events row \d+ \(session ig-[\w-]+ seq \d+\): edited/);
  });

  it('export writes bundles that import and replay read back', async () => {
    const { db } = await recorded();
    const dir = mkdtempSync(join(tmpdir(), 'ig-exp-'));
    const file = join(dir, 'sessions.jsonl.gz');
    assert.match((await cli(['export', '--db', db, '--out', file])).stdout, /exported 2 sessions/);
    const replayed = (await cli(['replay', file, '--json', '--no-pack'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(replayed.map((r) => r.outcome).sort(), ['allow', 'reauthorize']);
    const db2 = join(dir, 'imported.db');
    assert.match((await cli(['import', file, '--db', db2, '--no-pack'])).stdout, /imported 2 sessions/);
    assert.match((await cli(['sessions', '--db', db2])).stdout, /2 sessions/);
    assert.match((await cli(['audit', 'verify', db2])).stdout, /audit ok/);
  });

  it('replay DB --diff shows which recorded decisions change under new rules, and why', async () => {
    const { db } = await recorded();
    const same = await cli(['replay', db, '--diff', '--no-pack']);
    assert.match(same.stdout, /2 sessions replayed; 0 decisions would change/);
    const site = mkdtempSync(join(tmpdir(), 'ig-site-'));
    mkdirSync(join(site, 'tests'));
    writeFileSync(
      join(site, 'SITE-ECHO-001.yaml'),
      'id: SITE-ECHO-001\ntitle: No echo on Fridays\ndescription: a site rule that halts the echo tool\nseverity: high\nmatch:\n  on: tool_call\n  when: call.tool == "echo"\naction: halt\n',
    );
    const changed = await cli(['replay', db, '--diff', '--rules', site]);
    assert.match(changed.stdout, /call #0 echo: allow → halt \[SITE-ECHO-001\]/);
    assert.match(changed.stdout, /decisions would change/);
    const asJson = (await cli(['replay', db, '--diff', '--json', '--rules', site])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(
      asJson.some((d) => d.before === 'allow' && d.after === 'halt' && d.rules.includes('SITE-ECHO-001')),
    );
    // On worker threads: the same lines, in the same order.
    const parallel = await cli(['replay', db, '--diff', '--json', '--rules', site, '--jobs', '2']);
    assert.equal(parallel.stdout, (await cli(['replay', db, '--diff', '--json', '--rules', site])).stdout);
    assert.equal((await cli(['replay', db, '--jobs', '2'])).stdout, (await cli(['replay', db])).stdout);
    assert.equal(
      (await cli(['replay', db, '--jobs', '1'])).stdout,
      (await cli(['replay', db, '--jobs', 'auto'])).stdout,
    );
    assert.match((await cli(['replay', db, '--jobs', '0'])).stderr, /--jobs.*positive integer/);
    assert.match((await cli(['replay', db, '--jobs', 'many'])).stderr, /--jobs.*positive integer/);
  });

  it("a row altered behind intentguard's back so that it is no longer JSON: replay and show name the row and say what to run", async () => {
    const { db, ids } = await recorded();
    const raw = new Database(db);
    const seq = raw
      .prepare(
        "SELECT seq FROM events WHERE session_id = ? AND synthetic = 0 AND kind = 'request' ORDER BY seq LIMIT 1",
      )
      .pluck()
      .get(ids[0]) as number;
    raw.prepare('UPDATE events SET raw = ? WHERE session_id = ? AND seq = ?').run('{not json', ids[0], seq);
    raw.close();
    const expected = new RegExp(
      `ERR_STORE_CORRUPT: event ${seq} of session ${ids[0]} cannot be read back .*run intentguard audit verify`,
    );
    for (const args of [
      ['replay', db],
      ['replay', db, '--jobs', '2'],
      ['replay', db, '--diff'],
      ['show', ids[0]!, '--db', db],
    ]) {
      const r = await cli(args);
      assert.notEqual((r as { code?: number }).code ?? 0, 0, args.join(' '));
      assert.match(r.stderr, expected, args.join(' '));
    }
    assert.match(
      (await cli(['audit', 'verify', db])).stdout + (await cli(['audit', 'verify', db])).stderr,
      /edited/,
    );
  });

  it("show prints what a session said with its control characters escaped: no terminal escape sequence from a tool name or argument reaches the operator's terminal", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-cli-'));
    const db = join(dir, 'intentguard.db');
    const store = openStore(db);
    const monitor = createMonitor();
    const recorder = createRecorder(store, monitor);
    const s = monitor.open({
      intent: parseIntent({ purpose: 'notes \u001b]0;owned\u0007', tools: ['echo'] }),
    });
    await s.observe('c2s', {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'evil\u001b[2J\u202etool', arguments: { text: 'x' } },
    });
    await recorder.close();
    monitor.close();
    store.close();
    const shown = (await cli(['show', s.id, '--db', db])).stdout;
    // eslint-disable-next-line no-control-regex -- the point: no raw control character may reach the output
    assert.ok(!/[\u001b\u0007\u202e]/.test(shown), 'no raw control or bidi character in the output');
    assert.match(shown, /evil\\u001b\[2J\\u202etool/);
    assert.match(shown, /purpose {2}notes \\u001b\]0;owned\\u0007/);
  });

  it('prune removes old sessions and keeps the audit chain valid', async () => {
    // A mistyped path is an error, never a new empty database (and key) created there.
    const missing = join(mkdtempSync(join(tmpdir(), 'ig-cli-')), 'typo.db');
    for (const args of [
      ['prune', '--older-than', '1d', '--db', missing],
      ['approve', 'apr-1', '--db', missing],
      ['sessions', '--db', missing],
    ]) {
      const r = await cli(args);
      assert.match(r.stderr, /ERR_STORE: cannot open .*typo\.db/, args[0]);
    }
    assert.ok(!existsSync(missing) && !existsSync(`${missing}.key`), 'nothing was created');
    const { db } = await recorded();
    await new Promise((r) => setTimeout(r, 20));
    assert.match((await cli(['prune', '--older-than', '1ms', '--db', db])).stdout, /pruned 2 ended sessions/);
    assert.match(
      (await cli(['audit', 'verify', db])).stdout,
      /audit ok: 0 sessions, 0 events, 0 decisions, 1 anchors/,
    );
    const bad = await cli(['prune', '--older-than', 'soon', '--db', db]);
    assert.match(bad.stderr, /ERR_DURATION/);
  });

  it('sessions --live refreshes the table until stopped', async () => {
    const { db } = await recorded();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['bin/intentguard.js', 'sessions', '--live', '--db', db]);
    // Waits for the second refresh to arrive (an event), however slow the machine is: no deadline.
    let out = '';
    const exited = new Promise((r) => child.on('exit', r));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c;
        if ((out.match(/2 sessions \(newest first\)/g) ?? []).length >= 2) resolve();
      });
      child.on('exit', () => resolve());
    });
    child.kill('SIGINT');
    await exited;
    assert.ok((out.match(/2 sessions \(newest first\)/g) ?? []).length >= 2, out);
  });
});
