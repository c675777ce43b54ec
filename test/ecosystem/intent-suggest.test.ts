// intent suggest (issue 18): record real sessions through `intentguard stdio` in learn mode in front of
// the real server-filesystem and server-memory, suggest an intent from the SQLite file, parse it, and
// run the same honest sessions again under it in enforce mode: nothing is refused, nothing is alerted;
// the call a rule flagged while learning is not in the suggestion and stays refused.
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
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parseIntent } from '../../src/intent/parse.js';
import { commonPrefixes } from '../../src/learn/suggest.js';

const FS = 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js';
const MEMORY = 'node_modules/@modelcontextprotocol/server-memory/dist/index.js';

type Result = { isError?: boolean; content?: unknown };
type Agent = (client: Client) => Promise<Result[]>;

async function session(dir: string, server: string[], flags: string[], agent: Agent): Promise<Result[]> {
  const client = new Client({ name: 'agent', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['bin/intentguard.js', 'stdio', ...flags, '--', process.execPath, ...server],
    env: { ...(process.env as Record<string, string>), MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
    stderr: 'pipe',
  });
  await client.connect(transport);
  try {
    await client.listTools();
    return await agent(client);
  } finally {
    await client.close();
  }
}

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/intentguard.js', ...args], { encoding: 'utf8' });
const alertLines = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

describe('intent suggest: learn from recorded sessions, then enforce', () => {
  let dir = '',
    root = '',
    db = '';
  let fsAgent: Agent, memoryAgent: Agent, snoop: Agent;
  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'intentguard-suggest-')));
    root = join(dir, 'project');
    mkdirSync(join(root, 'notes', 'old'), { recursive: true });
    mkdirSync(join(root, 'out'), { recursive: true });
    writeFileSync(join(root, 'notes', 'a.md'), 'meeting notes: ship on friday\n');
    writeFileSync(join(root, 'notes', 'old', 'b.md'), 'older notes, contact alice@example.com\n');
    writeFileSync(join(root, '.env'), 'API_KEY=sk-live-0000000000000000000000\n');
    db = join(dir, 'learn.db');
    fsAgent = async (c) => [
      (await c.callTool({ name: 'list_directory', arguments: { path: join(root, 'notes') } })) as Result,
      (await c.callTool({
        name: 'read_text_file',
        arguments: { path: join(root, 'notes', 'a.md') },
      })) as Result,
      (await c.callTool({
        name: 'read_text_file',
        arguments: { path: join(root, 'notes', 'old', 'b.md') },
      })) as Result,
      (await c.callTool({
        name: 'write_file',
        arguments: { path: join(root, 'out', 'summary.md'), content: 'ship on friday' },
      })) as Result,
    ];
    memoryAgent = async (c) => [
      (await c.callTool({
        name: 'create_entities',
        arguments: { entities: [{ name: 'friday', entityType: 'deadline', observations: ['ship'] }] },
      })) as Result,
      (await c.callTool({ name: 'read_graph', arguments: {} })) as Result,
    ];
    snoop = async (c) => [
      (await c.callTool({ name: 'read_text_file', arguments: { path: join(root, '.env') } })) as Result,
    ];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const learn = ['--mode', 'monitor', '--db', () => db] as const;
  const learnFlags = () => learn.map((f) => (typeof f === 'function' ? f() : f));

  it('suggests an intent that parses, explains each line and leaves out the call a rule flagged', async () => {
    for (const r of await session(dir, [FS, root], learnFlags(), fsAgent))
      assert.notEqual(r.isError, true, JSON.stringify(r));
    await session(dir, [MEMORY], learnFlags(), memoryAgent);
    await session(dir, [FS, root], learnFlags(), snoop);
    const r = cli('intent', 'suggest', '--db', db);
    assert.equal(r.status, 0, r.stderr);
    writeFileSync(join(dir, 'suggested.yaml'), r.stdout);
    const intent = parseIntent(parseYaml(r.stdout));
    const tools = (intent.tools as { name: string }[]).map((t) => t.name).sort();
    assert.deepEqual(
      tools,
      ['create_entities', 'list_directory', 'read_graph', 'read_text_file', 'write_file'],
      r.stdout,
    );
    // Directory prefixes, not every file: one prefix covers the notes, the old notes and the output.
    assert.deepEqual(intent.resources?.paths, [root], r.stdout);
    assert.ok(!r.stdout.includes('b.md"'), 'no single file is listed as a scope');
    assert.ok(intent.budget?.calls !== undefined && intent.budget.calls >= 8, r.stdout);
    assert.equal(intent.sensitivity, 'internal', 'the old notes carried an email address (personal data)');
    for (const line of r.stdout.split('\n').filter((l) => /^\s*(- |calls:|duration:|sensitivity:)/.test(l)))
      assert.match(line, /# \S/, `explained: ${line}`);
    // The .env read was flagged (a sensitive resource): left out, listed in the trailing comment.
    assert.match(r.stdout, /# Left out: 1 call/);
    assert.match(r.stdout, /read_text_file: intent\/sensitive-resource/);
    assert.deepEqual(intent.resources?.sensitive, []);
  });

  it('fed back as --intent, the same honest sessions run in enforce mode without a refusal or an alert', async () => {
    const alerts = join(dir, 'enforce-alerts.jsonl');
    const flags = [
      '--intent',
      join(dir, 'suggested.yaml'),
      '--db',
      join(dir, 'enforce.db'),
      '--alerts-jsonl',
      alerts,
    ];
    for (const r of await session(dir, [FS, root], flags, fsAgent))
      assert.notEqual(r.isError, true, JSON.stringify(r));
    for (const r of await session(dir, [MEMORY], flags, memoryAgent))
      assert.notEqual(r.isError, true, JSON.stringify(r));
    assert.deepEqual(alertLines(alerts), [], 'no alert');
    // What was flagged while learning stays out of reach.
    await assert.rejects(session(dir, [FS, root], flags, snoop), /beyond the approval.*\.env/);
  });

  it('names what it could not find: a session id with no recording is ERR_SUGGEST_NO_SESSIONS', () => {
    const r = cli('intent', 'suggest', '--db', db, '--session', 'nope');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ERR_SUGGEST_NO_SESSIONS/);
    const s = cli('intent', 'suggest', '--db', db, '--sub', 'agent:nobody');
    assert.match(s.stderr, /ERR_SUGGEST_NO_SESSIONS.*agent:nobody/);
  });

  it('commonPrefixes keeps the deepest directory shared per top-level folder', () => {
    assert.deepEqual(commonPrefixes(['/srv/p/a/x.md', '/srv/p/b/y.md', '/home/u/w/z', '/home/u/w/q/r']), [
      '/home/u/w',
      '/srv/p',
    ]);
    assert.deepEqual(commonPrefixes(['/srv/p/a/x.md']), ['/srv/p/a/x.md']);
  });
});
