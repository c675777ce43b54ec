// The recorder's worker keeps the process alive while anything handed to it is unanswered: rows, and
// flushes (which may carry no rows). Found by `intentguard import --progress`, which now and then exited
// 0 with nothing printed: the rows' commit message let the process go before the flush's answer came.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('recorder: the worker keeps its process alive for what it owes', () => {
  it('a flush posted behind committed rows settles before the process may exit, and close() completes', async () => {
    for (let i = 0; i < 3; i++) {
      const db = join(mkdtempSync(join(tmpdir(), 'ig-keepalive-')), 'intentguard.db');
      const r = await run(process.execPath, [
        '--import',
        'tsx',
        'test/store/fixtures/flush-after-rows.ts',
        db,
      ]);
      assert.equal(r.stdout, 'flushed 0\nclosed\n', `run ${i}: the process ended before its flush settled`);
    }
  });
});
