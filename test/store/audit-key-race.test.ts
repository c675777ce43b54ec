import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createKeyFile, loadAuditKeys } from '../../src/store/chain.js';

// Finding (fleet CI run): two instances started at once on a fresh store each created the audit key
// file (check, then write-and-rename), so the second rename replaced the first key and one instance
// was refused (ERR_STORE_KEY) or, on SQLite, chained with a key the file no longer holds.
test('creating an audit key never replaces one another process created first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-keyrace-'));
  const path = join(dir, 'store.key');
  const first = Buffer.alloc(32, 1);
  createKeyFile(path, first);
  createKeyFile(path, Buffer.alloc(32, 2));
  assert.equal(readFileSync(path, 'utf8').trim(), first.toString('hex'));
  assert.deepEqual(loadAuditKeys(join(dir, 'store')).key, first);
  assert.deepEqual(readdirSync(dir), ['store.key'], 'no temporary file is left behind');
});

test('processes racing to create one store key all read the same key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-keyrace-'));
  const chain = new URL('../../src/store/chain.ts', import.meta.url).href;
  const code = `const { loadAuditKeys } = await import(${JSON.stringify(chain)});
    process.stdout.write(loadAuditKeys(${JSON.stringify(join(dir, 'store'))}).key.toString('hex'));`;
  const run = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`exit ${c}`))));
    });
  const keys = await Promise.all(Array.from({ length: 6 }, run));
  assert.equal(new Set(keys).size, 1, 'every process has the one key in the file');
  assert.equal(readFileSync(join(dir, 'store.key'), 'utf8').trim(), keys[0]);
});
