import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { lockAnchor } from '../../src/store/anchor.js';
import { openStore } from '../../src/store/db.js';

// The head anchor's lock file (`<db>.anchor.lock`) is taken by every commit. A writer killed with
// SIGKILL can leave it behind in any state; the next writer must take over a stale one, and only a
// stale one.
const freshDb = (): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'ig-lock-')), 'intentguard.db');
  openStore(path).close();
  return path;
};

describe('head anchor lock', () => {
  for (const [what, content] of [
    ['empty (killed between creating the file and writing its holder)', ''],
    ['half-written holder', '12'],
    ['not a holder at all', 'garbage\n'],
  ] as const) {
    it(`a lock left ${what} does not block the next writer`, () => {
      const path = freshDb();
      writeFileSync(`${path}.anchor.lock`, content);
      lockAnchor(path, 200)();
      assert.equal(existsSync(`${path}.anchor.lock`), false);
    });
  }

  it('a lock held by a dead process is taken over', async () => {
    const path = freshDb();
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.on('exit', r));
    writeFileSync(`${path}.anchor.lock`, `${child.pid} 0d3c2b9e-holder`);
    lockAnchor(path, 200)();
    assert.equal(existsSync(`${path}.anchor.lock`), false);
  });

  it('a lock held by a live process is respected, and taking the lock leaves no staging file', async () => {
    const path = freshDb();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(`${path}.anchor.lock`, `${child.pid} 0d3c2b9e-holder`);
      assert.throws(() => lockAnchor(path, 50), { code: 'SQLITE_BUSY_ANCHOR' });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
    }
    const release = lockAnchor(path, 1000);
    release();
    assert.deepEqual(
      readdirSync(join(path, '..')).filter((f) => f.includes('.lock')),
      [],
    );
  });
});
