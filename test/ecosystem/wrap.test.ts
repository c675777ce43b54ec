// intentguard wrap / unwrap (issue 18): each desktop client's MCP configuration (Claude Desktop and
// Cursor `mcpServers`, VS Code `servers` with `type: stdio`) gets its stdio servers run through
// `intentguard stdio` in learn mode; a wrapped entry is started exactly as the client would start it
// (the command it wrote, spawned) in front of the real server-memory, and recorded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parseIntent } from '../../src/intent/parse.js';
import { openStore } from '../../src/store/db.js';
import { listSessions } from '../../src/store/queries.js';

const BIN = resolve('bin/intentguard.js');
const MEMORY = resolve('node_modules/@modelcontextprotocol/server-memory/dist/index.js');
const FS = resolve('node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');

type Entry = { command: string; args: string[]; env?: Record<string, string>; type?: string; url?: string };

describe('wrap / unwrap desktop client configurations', () => {
  let home = '';
  const run = (args: string[], cwd = process.cwd()) =>
    spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      cwd,
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') },
    });
  before(() => {
    home = realpathSync(mkdtempSync(join(tmpdir(), 'intentguard-wrap-')));
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  const shapes = () => ({
    claude: `${JSON.stringify(
      {
        globalShortcut: 'Ctrl+Space',
        mcpServers: {
          memory: {
            command: process.execPath,
            args: [MEMORY],
            env: { MEMORY_FILE_PATH: join(home, 'claude-memory.jsonl') },
          },
          remote: { url: 'https://mcp.example.com/mcp' },
        },
      },
      null,
      2,
    )}\n`,
    cursor: `${JSON.stringify({ mcpServers: { files: { command: process.execPath, args: [FS, home] }, web: { url: 'http://localhost:3000/mcp' } } }, null, 4)}`,
    vscode: `${JSON.stringify(
      {
        inputs: [{ type: 'promptString', id: 'token', description: 'token', password: true }],
        servers: {
          memory: {
            type: 'stdio',
            command: process.execPath,
            args: [MEMORY],
            env: { MEMORY_FILE_PATH: join(home, 'vscode-memory.jsonl') },
          },
          remote: { type: 'http', url: 'https://mcp.example.com/mcp' },
        },
      },
      null,
      '\t',
    )}\n`,
  });

  for (const client of ['claude', 'cursor', 'vscode'] as const) {
    it(`${client}: wraps each stdio server (command after --, env kept, backup), twice changes nothing, unwrap restores the bytes`, () => {
      const file = join(home, `${client}.json`);
      const original = shapes()[client];
      writeFileSync(file, original);
      const dry = run(['wrap', '--client', client, '--config', file, '--dry-run']);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stdout, /would wrap/);
      assert.equal(readFileSync(file, 'utf8'), original, '--dry-run writes nothing');
      const r = run(['wrap', '--client', client, '--config', file]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(
        readFileSync(`${file}.intentguard-backup`, 'utf8'),
        original,
        'the backup is the original',
      );
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, Entry>>;
      const before = JSON.parse(original) as Record<string, Record<string, Entry>>;
      const key = client === 'vscode' ? 'servers' : 'mcpServers';
      for (const [name, was] of Object.entries(before[key]!)) {
        const now = doc[key]![name]!;
        if (was.url !== undefined) {
          assert.deepEqual(now, was, `${name}: not a stdio server, untouched`);
          continue;
        }
        assert.equal(now.command, process.execPath);
        assert.deepEqual(now.args.slice(0, 4), [BIN, 'stdio', '--mode', 'monitor']);
        assert.deepEqual(
          now.args.slice(now.args.indexOf('--') + 1),
          [was.command, ...was.args],
          'the original command after --',
        );
        assert.deepEqual(now.env, was.env, 'env kept');
        assert.equal(now.type, was.type);
        const intentFile = now.args[now.args.indexOf('--intent') + 1]!;
        const intent = parseIntent(parseYaml(readFileSync(intentFile, 'utf8')));
        assert.equal(intent.id, 'learn-mode');
        assert.deepEqual(intent.tools, []);
      }
      const wrapped = readFileSync(file, 'utf8');
      assert.equal(wrapped.endsWith('\n'), original.endsWith('\n'), 'the final newline is kept');
      const again = run(['wrap', '--client', client, '--config', file]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /nothing to wrap/);
      assert.equal(readFileSync(file, 'utf8'), wrapped, 'wrapping twice changes nothing');
      assert.equal(
        readFileSync(`${file}.intentguard-backup`, 'utf8'),
        original,
        'and keeps the original backup',
      );
      const u = run(['unwrap', '--client', client, '--config', file]);
      assert.equal(u.status, 0, u.stderr);
      assert.equal(readFileSync(file, 'utf8'), original, 'unwrap restores the original bytes');
      assert.equal(existsSync(`${file}.intentguard-backup`), false);
    });
  }

  it('unwrap without the backup restores each entry from the command after --', () => {
    const file = join(home, 'nobackup.json');
    const original = shapes().claude;
    writeFileSync(file, original);
    assert.equal(run(['wrap', '--client', 'claude', '--config', file]).status, 0);
    rmSync(`${file}.intentguard-backup`);
    const u = run(['unwrap', '--client', 'claude', '--config', file]);
    assert.equal(u.status, 0, u.stderr);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), JSON.parse(original));
  });

  it('a wrapped entry, spawned as the client would, runs the real server through intentguard in learn mode and is recorded', async () => {
    mkdirSync(join(home, '.cursor'), { recursive: true });
    const file = join(home, '.cursor', 'mcp.json');
    writeFileSync(
      file,
      JSON.stringify(
        {
          mcpServers: {
            memory: {
              command: process.execPath,
              args: [MEMORY],
              env: { MEMORY_FILE_PATH: join(home, 'm.jsonl') },
            },
          },
        },
        null,
        2,
      ),
    );
    const r = run(['wrap', '--client', 'cursor']);
    assert.equal(r.status, 0, r.stderr);
    const entry = (JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: Record<string, Entry> }).mcpServers
      .memory!;
    const client = new Client({ name: 'cursor', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: entry.command,
        args: entry.args,
        env: { ...(process.env as Record<string, string>), ...entry.env },
        stderr: 'pipe',
      }),
    );
    const created = await client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'bob', entityType: 'person', observations: ['x'] }] },
    });
    assert.notEqual(created.isError, true, JSON.stringify(created));
    await client.close();
    const db = entry.args[entry.args.indexOf('--db') + 1]!;
    assert.equal(db, join(home, '.intentguard', 'intentguard.db'));
    const store = openStore(db, { readonly: true });
    try {
      assert.ok(
        listSessions(store).some((s) => /learn mode for memory/.test(s.purpose)),
        'recorded under its learn-mode intent',
      );
    } finally {
      store.close();
    }
  });

  it('VS Code: the workspace .vscode/mcp.json by default', () => {
    const ws = join(home, 'ws');
    mkdirSync(join(ws, '.vscode'), { recursive: true });
    writeFileSync(join(ws, '.vscode', 'mcp.json'), shapes().vscode);
    const r = run(['wrap', '--client', 'vscode'], ws);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(join(ws, '.vscode', 'mcp.json'), 'utf8'), /intentguard\.js/);
  });

  it('bad configurations are ERR_WRAP_CONFIG naming the file; --config with --client all is ERR_CONFIG', () => {
    const bad = join(home, 'bad.json');
    writeFileSync(bad, '{ // comment\n "mcpServers": {} }');
    const a = run(['wrap', '--client', 'claude', '--config', bad]);
    assert.notEqual(a.status, 0);
    assert.match(a.stderr, /ERR_WRAP_CONFIG.*bad\.json/);
    writeFileSync(bad, JSON.stringify({ servers: {} }));
    assert.match(run(['wrap', '--client', 'claude', '--config', bad]).stderr, /ERR_WRAP_CONFIG.*mcpServers/);
    assert.match(
      run(['wrap', '--client', 'claude', '--config', join(home, 'missing.json')]).stderr,
      /ERR_WRAP_CONFIG.*missing\.json/,
    );
    assert.match(run(['wrap', '--config', bad]).stderr, /ERR_CONFIG/);
    assert.match(run(['wrap', '--client', 'emacs']).stderr, /ERR_CONFIG/);
  });
});
