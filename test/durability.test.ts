import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verifyAudit } from '../src/store/audit.js';
import { openStore } from '../src/store/db.js';

describe('durability', () => {
  it('every event the recorder acknowledged survives kill -9, and the database is intact', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ig-kill-')), 'intentguard.db');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/record-child.ts', path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked = new Map<string, number>();
    let acks = 0;
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) {
          const [, session, seq] = line.split(' ');
          acked.set(session!, Math.max(acked.get(session!) ?? -1, Number(seq)));
          acks++;
        }
        if (acks >= 60) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code) => (acks < 60 ? reject(new Error(`child exited early (${code})`)) : undefined));
    });
    await new Promise((r) => child.on('exit', r));
    assert.equal(child.signalCode, 'SIGKILL');
    const store = openStore(path);
    assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
    let total = 0;
    for (const [session, seq] of acked) {
      const row = store.db
        .prepare('SELECT count(*) n, max(seq) m FROM events WHERE session_id = ?')
        .get(session) as { n: number; m: number };
      assert.ok(row.m >= seq, `${session}: acknowledged seq ${seq}, found up to ${row.m}`);
      assert.equal(row.n, row.m + 1, `${session}: events are gap-free`);
      total += seq + 1;
    }
    assert.ok(total >= 1000, `only ${total} events acknowledged`);
    // Nothing was tampered with; the sessions the kill cut short were sealed when the database was
    // opened again, as "ended without seal at event N", and verify names each of them.
    const report = verifyAudit(store);
    assert.deepEqual(report.problems, []);
    for (const session of acked.keys()) {
      assert.ok(store.sealedAtOpen.includes(session), `${session} sealed at the next open`);
      assert.match(
        report.unsealed.find((u) => u.session === session)?.detail ?? '',
        /ended without seal at event \d+/,
      );
    }
    store.close();
  });
});
