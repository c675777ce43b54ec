import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RPC_CODES } from '../../src/index.js';
import { collectLines, spawnCli } from '../helpers/cli-child.js';
import { waitFor } from '../helpers/wait.js';

// `intentguard stdio` starts the server before it loads the monitor and the rules (so both starts
// overlap), holds what the client sends until the session is attached, and stops the server when no
// session can be opened.
const dir = mkdtempSync(join(tmpdir(), 'ig-stdio-start-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things back\ntools: [echo]\n');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('intentguard stdio start-up', () => {
  it('what the client sends at once, before the monitor is loaded, is decided like the rest: nothing passes unseen', async () => {
    const child = spawnCli([
      'stdio',
      '--intent',
      intentFile,
      '--no-record',
      '--',
      process.execPath,
      'test/fixtures/raw-server.mjs',
    ]);
    const lines = collectLines(child.stdout);
    const call = (id: number, name: string) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name, arguments: { text: name } },
      });
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'early', version: '1' } } })}\n${call(2, 'delete_everything')}\n${call(3, 'echo')}\n`,
    );
    await waitFor(() => lines.length >= 3, 'three answers');
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
    const byId = new Map(
      lines
        .map((l) => JSON.parse(l) as { id: number; result?: unknown; error?: { code: number } })
        .map((m) => [m.id, m]),
    );
    assert.equal(byId.get(2)?.error?.code, RPC_CODES.DENIED);
    assert.equal(byId.get(2)?.result, undefined);
    assert.match(JSON.stringify(byId.get(3)?.result), /echo/);
  });

  it('the server is started first, and stopped when the runtime cannot be built (here: the intent does not parse)', async () => {
    // The intent is a FIFO: the runtime's read of it waits until the test writes, after the server is up.
    const fifo = join(dir, 'intent-fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const pidFile = join(dir, 'server.pid');
    // A server that never reads stdin and ignores nothing: it stays until it is stopped.
    const server = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`;
    const child = spawnCli(['stdio', '--intent', fifo, '--no-record', '--', process.execPath, '-e', server]);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '', 'the server to start');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(alive(pid));
    writeFileSync(fifo, 'purpose: [unclosed\n');
    assert.equal(await exit, 2);
    assert.match(stderr, /ERR_INTENT_INVALID/);
    assert.equal(alive(pid), false, 'the server was stopped before intentguard exited');
  });
});
