// Issue 11 §5: CLI faults that showed Node's stack traces. `show … | head` and `replay … | head` crashed
// with EPIPE; a port in use printed the unhandled EADDRINUSE stack. Every fault is one line with a
// stable code and the right exit status; a closed pipe exits quietly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMonitor } from '../../src/index.js';
import { openStore } from '../../src/store/db.js';
import { createRecorder } from '../../src/store/recorder.js';
import { driveSession } from '../helpers/session.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-cli-faults-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things\ntools: [echo]\n');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI; with `closedStdout` its stdout is a pipe whose reader is already gone (`| head` that has exited). */
function cli(args: string[], o: { closedStdout?: boolean } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/intentguard.js', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    if (o.closedStdout) child.stdout.destroy();
    else
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Several CLI runs, two at a time (the machine is shared). */
async function all<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    [0, 1].map(async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
    }),
  );
}

const noStack = (r: Run, what: string) => {
  assert.doesNotMatch(
    r.stderr,
    /^\s+at |node:internal|Unhandled 'error' event|throw er/m,
    `${what}: no stack trace\n${r.stderr}`,
  );
};

async function recordedDb(): Promise<{ db: string; id: string }> {
  const db = join(dir, 'recorded.db');
  const store = openStore(db);
  const monitor = createMonitor();
  const recorder = createRecorder(store, monitor);
  const id = await driveSession(monitor, { calls: 40 });
  await recorder.close();
  monitor.close();
  store.close();
  return { db, id };
}

describe('CLI faults (issue 11 §5)', () => {
  it('show … | head, replay … | head, sessions | head and every other printing command exit quietly on a closed pipe (EPIPE → exit 0, no stack)', async () => {
    const { db, id } = await recordedDb();
    const bundle = join(dir, 'bundle.jsonl');
    writeFileSync(
      bundle,
      `${JSON.stringify({ id: 'b1', intent: { purpose: 'echo', tools: ['echo'] }, events: [{ dir: 'c2s', msg: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } } }] })}\n`,
    );
    const commands = [
      ['show', id, '--db', db],
      ['show', id, '--db', db, '--json'],
      ['replay', db],
      ['replay', db, '--json'],
      ['replay', bundle],
      ['sessions', '--db', db],
      ['sessions', '--db', db, '--live'],
      ['export', '--db', db],
      ['audit', 'verify', db],
      ['rules', 'lint'],
      ['--help'],
    ];
    await all(commands, async (args) => {
      const r = await cli(args, { closedStdout: true });
      noStack(r, args.join(' '));
      assert.equal(r.stderr, '', `${args.join(' ')}: quiet`);
      assert.equal(r.code, 0, `${args.join(' ')}: exit 0`);
    });
  });

  it('a port in use is one line ERR_LISTEN naming the address, exit status 1, for every listening command', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const memory = ['--', process.execPath, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js'];
    const common = ['--no-record', '--intent', intentFile];
    const commands = [
      ['http', '--listen', `127.0.0.1:${port}`, '--upstream', 'http://127.0.0.1:1/mcp', ...common],
      ['http', '--listen', `127.0.0.1:${port}`, ...common, ...memory],
      ['ws', '--listen', `127.0.0.1:${port}`, '--upstream', 'ws://127.0.0.1:1', ...common],
      [
        'http',
        '--listen',
        '127.0.0.1:0',
        '--upstream',
        'http://127.0.0.1:1/mcp',
        ...common,
        '--alerts-ws-port',
        String(port),
        '--alerts-ws-token',
        't',
      ],
      ['stdio', ...common, '--alerts-ws-port', String(port), '--alerts-ws-token', 't', ...memory],
    ];
    try {
      await all(commands, async (args) => {
        const r = await cli(args);
        noStack(r, args.join(' '));
        // `intentguard stdio` starts its server before it loads the monitor (the starts overlap); what
        // the server itself wrote to its inherited stderr before it was stopped may come first.
        const own = r.stderr
          .split('\n')
          .filter((l, i, all) => l.startsWith('intentguard:') || (l === '' && i === all.length - 1))
          .join('\n');
        assert.equal(
          args[0] === 'stdio' ? own : r.stderr,
          `intentguard: ERR_LISTEN: cannot listen on 127.0.0.1:${port}: address already in use\n`,
          args.join(' '),
        );
        assert.equal(r.code, 1, `${args.join(' ')}: exit 1`);
      });
      const unknownHost = await cli([
        'http',
        '--listen',
        'no-such-host.invalid:0',
        '--upstream',
        'http://127.0.0.1:1/mcp',
        ...common,
      ]);
      assert.match(
        unknownHost.stderr,
        /^intentguard: ERR_LISTEN: cannot listen on no-such-host\.invalid:0: /,
      );
      assert.equal(unknownHost.code, 1);
    } finally {
      taken.close();
    }
  });

  it('bad paths and bad URLs are one line with a stable code, never a stack trace', async () => {
    const { db } = await recordedDb();
    const badYaml = join(dir, 'broken.yaml');
    writeFileSync(badYaml, 'purpose: [unclosed\n');
    const notJson = join(dir, 'key.json');
    writeFileSync(notJson, 'garbage\nmore garbage\n');
    const cases: [string[], RegExp][] = [
      [
        ['export', '--db', db, '--out', join(dir, 'no', 'such', 'dir', 'x.jsonl.gz')],
        /^intentguard: ERR_FILE: cannot open .*x\.jsonl\.gz: no such file or directory\n$/,
      ],
      [
        [
          'http',
          '--listen',
          '127.0.0.1:0',
          '--upstream',
          'localhost:13001',
          '--no-record',
          '--intent',
          intentFile,
        ],
        /^intentguard: ERR_CONFIG: --upstream takes a http or https URL .*"localhost:13001"\n$/,
      ],
      [
        ['http', '--listen', '127.0.0.1:0', '--upstream', 'not a url', '--no-record', '--intent', intentFile],
        /^intentguard: ERR_CONFIG: --upstream /,
      ],
      [
        [
          'ws',
          '--listen',
          '127.0.0.1:0',
          '--upstream',
          'http://127.0.0.1:1',
          '--no-record',
          '--intent',
          intentFile,
        ],
        /^intentguard: ERR_CONFIG: --upstream takes a ws or wss URL/,
      ],
      [
        ['http', '--listen', '127.0.0.1:99999', '--upstream', 'http://127.0.0.1:1/mcp', '--no-record'],
        /^intentguard: ERR_CONFIG: --listen /,
      ],
      [
        ['stdio', '--no-record', '--intent', intentFile, '--alerts-webhook', 'hooks.example/x', '--', 'true'],
        /^intentguard: ERR_CONFIG: --alerts-webhook takes a http or https URL/,
      ],
      [
        ['stdio', '--no-record', '--intent', intentFile, '--approval-webhook', 'ftp://x', '--', 'true'],
        /^intentguard: ERR_CONFIG: --approval-webhook /,
      ],
      [
        ['stdio', '--no-record', '--jwks-url', 'jwks.json', '--issuer', 'i', '--audience', 'a', '--', 'true'],
        /^intentguard: ERR_CONFIG: --jwks-url /,
      ],
      [
        ['stdio', '--no-record', '--intent', badYaml, '--', 'true'],
        /^intentguard: ERR_INTENT_INVALID: .*broken\.yaml: not valid YAML: /,
      ],
      [
        ['keys', 'generate', '--alg', 'XX', '--out', join(dir, 'k')],
        /^intentguard: ERR_CONFIG: --alg must be one of /,
      ],
      [
        ['grant', 'mint', '--intent', intentFile, '--sub', 'agent:x', '--key', notJson],
        /^intentguard: ERR_KEY_SOURCE: .*key\.json: not a JSON Web Key/,
      ],
      [['grant', 'mint', '--intent', badYaml, '--sub', 'agent:x', '--key', notJson], /^intentguard: ERR_/],
    ];
    await all(cases, async ([args, expected]) => {
      const r = await cli(args);
      noStack(r, args.join(' '));
      assert.match(r.stderr, expected, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line\n${r.stderr}`);
      assert.ok(r.code === 1 || r.code === 2, `${args.join(' ')}: exit ${r.code}`);
    });
  });
});
