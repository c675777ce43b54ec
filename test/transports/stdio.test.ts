import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { RPC_CODES } from '../../src/index.js';
import { generateKeys } from '../../src/identity/keys.js';
import { mintGrant } from '../../src/identity/grant.js';
import { openStore } from '../../src/store/db.js';
import { listSessions } from '../../src/store/queries.js';
import { collectLines, spawnCli } from '../helpers/cli-child.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'ig-stdio-'));
const intentFile = join(dir, 'intent.yaml');
writeFileSync(intentFile, 'purpose: echo things back\ntools: [echo, get-sum]\n');
const everything = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';

/** The MCP handshake a raw client starts with (intentguard refuses requests before it); its answer is not listed. */
const INIT =
  '{"jsonrpc":"2.0","id":"raw-init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n';

/** The proxy as a raw child: write lines, read lines. Initialized first unless `init` is false. */
function rawProxy(
  extra: string[] = [],
  server = ['node', 'test/fixtures/raw-server.mjs'],
  env: NodeJS.ProcessEnv = {},
  init = true,
) {
  const db = join(dir, `raw-${Math.random()}.db`);
  const child = spawnCli(['stdio', '--intent', intentFile, '--db', db, ...extra, '--', ...server], {
    env: { ...process.env, ...env },
  });
  const lines = collectLines(child.stdout, (l) => !l.includes('"id":"raw-init"'));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c;
  });
  if (init) child.stdin.write(INIT);
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    lines,
    db,
    send: (s: string | Buffer) => child.stdin.write(typeof s === 'string' ? `${s}\n` : s),
    exit,
    stderr: () => stderr,
  };
}

describe('intentguard stdio', () => {
  it("a real SDK client drives server-everything through the proxy; a call outside the intent gets intentguard's error", async () => {
    const db = join(dir, 'sdk.db');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        'bin/intentguard.js',
        'stdio',
        '--intent',
        intentFile,
        '--db',
        db,
        '--',
        process.execPath,
        everything,
        'stdio',
      ],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'sdk-client', version: '1' });
    await client.connect(transport);
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'echo'));
    assert.deepEqual(
      (await client.callTool({ name: 'echo', arguments: { message: 'through the proxy' } })).content,
      [{ type: 'text', text: 'Echo: through the proxy' }],
    );
    await assert.rejects(
      client.callTool({ name: 'toggle-simulated-logging', arguments: {} }),
      (e: unknown) => {
        assert.equal((e as McpError).code, RPC_CODES.DENIED);
        assert.deepEqual(((e as McpError).data as { rules: string[] }).rules, ['IG-INT-001']);
        return true;
      },
    );
    await client.close();
    await waitFor(() => {
      try {
        const s = openStore(db, { readonly: true });
        const rows = listSessions(s);
        s.close();
        return rows[0]?.status?.startsWith('closed') ?? false;
      } catch {
        return false;
      }
    }, 'the session to be recorded as closed');
  });

  it('passes unknown fields, batches and id:null errors through unharmed', async () => {
    const p = rawProxy([], undefined, {}, false);
    p.send(
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}},"x-client-field":{"k":[1,2]}}',
    );
    await waitFor(() => p.lines.length >= 1, 'initialize answer');
    assert.deepEqual(JSON.parse(p.lines[0]!).result.serverInfo, { name: 'raw', version: '1' });
    p.send('{"jsonrpc":"2.0","id":2,"method":"ping-like","params":{"a":1}}');
    await waitFor(() => p.lines.length >= 2, 'echo');
    assert.equal(
      p.lines[1],
      '{"jsonrpc":"2.0","id":2,"result":{"echo":{"a":1}},"x-unknown":"kept"}',
      'byte for byte, unknown field kept',
    );
    p.send('[{"jsonrpc":"2.0","id":3,"method":"a"},{"jsonrpc":"2.0","id":4,"method":"b"}]');
    await waitFor(() => p.lines.length >= 3, 'batch answer');
    assert.deepEqual(
      JSON.parse(p.lines[2]!).map((r: { id: number }) => r.id),
      [3, 4],
    );
    p.send('{"jsonrpc":"2.0","id":5,"method":"emit-null-error"}');
    p.send('{"jsonrpc":"2.0","id":6,"method":"emit-batch"}');
    await waitFor(() => p.lines.length >= 6, 'null error and server batch');
    assert.ok(
      p.lines.includes(
        '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"null id error"},"x-vendor":true}',
      ),
    );
    // A batch is never forwarded as one (MCP 2025-06-18 removed them; SDK peers drop arrays): its elements travel singly.
    assert.ok(
      p.lines.includes('{"jsonrpc":"2.0","method":"n1","params":{"a":1}}') &&
        p.lines.includes('{"jsonrpc":"2.0","method":"n2"}'),
    );
    p.child.stdin.end();
    assert.equal(await p.exit, 0);
    // Recorded as it travelled: the wire text of each single message, not a re-serialization.
    const store = openStore(p.db, { readonly: true });
    const raws = store.db
      .prepare("SELECT raw FROM events WHERE synthetic = 0 AND kind != 'invalid' ORDER BY seq")
      .pluck()
      .all() as string[];
    store.close();
    assert.ok(raws.includes('{"jsonrpc":"2.0","id":2,"result":{"echo":{"a":1}},"x-unknown":"kept"}'));
    assert.ok(raws.some((r) => r.endsWith(',"x-client-field":{"k":[1,2]}}')));
  });

  it('garbage, binary, partial and over-long lines get clear errors and the session keeps working', async () => {
    const p = rawProxy(['--max-message-bytes', '2048']);
    p.send('this is not json');
    p.send(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a]));
    p.send(
      `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"echo","arguments":{"text":"${'x'.repeat(5000)}"}}}`,
    );
    p.send(
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"small"}}}',
    );
    await waitFor(() => p.lines.some((l) => l.includes('"id":7')), 'the small call to pass');
    const parsed = p.lines.map((l) => JSON.parse(l));
    assert.equal(
      parsed.filter((m) => m.error?.code === -32700 && m.error.data?.code === 'ERR_JSONRPC_INVALID').length,
      2,
    );
    const big = parsed.find((m) => m.id === 'big')!;
    assert.equal(big.error.data.code, 'ERR_MESSAGE_TOO_LARGE');
    assert.equal(big.error.code, RPC_CODES.REFUSED);
    // An over-long answer from the server is not delivered, and the caller is not left waiting for it.
    p.send('{"jsonrpc":"2.0","id":9,"method":"emit-big","params":{"size":5000}}');
    await waitFor(
      () => p.lines.some((l) => l.includes('"id":9')),
      'an answer to the call whose result is too large',
    );
    const withheld = JSON.parse(p.lines.find((l) => l.includes('"id":9'))!);
    assert.equal(withheld.error.data.code, 'ERR_MESSAGE_TOO_LARGE');
    assert.match(withheld.error.message, /withheld/);
    p.send(
      '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","arguments":{"text":"after"}}}',
    );
    await waitFor(() => p.lines.some((l) => l.includes('"id":10')), 'the session to go on');
    // Nesting deeper than the limit is refused even though the line's size is within it.
    p.send(
      `{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"echo","arguments":{"x":${'['.repeat(300)}${']'.repeat(300)}}}}`,
    );
    await waitFor(
      () => p.lines.some((l) => l.includes('"id":"deep"')),
      'an answer to the deeply nested call',
    );
    const deep = JSON.parse(p.lines.find((l) => l.includes('"id":"deep"'))!);
    assert.match(deep.error.message, /nesting deeper than 256 levels/);
    // A JSON value that is not a JSON-RPC message gets an error with a null id, not silence.
    p.send('{"jsonrpc":"2.0","id":{"not":"an id"},"method":"tools/call"}');
    await waitFor(
      () => p.lines.some((l) => l.includes('request id must be a string or integer')),
      'an answer to an invalid message',
    );
    const invalid = JSON.parse(p.lines.find((l) => l.includes('request id must be a string or integer'))!);
    assert.deepEqual(
      [invalid.id, invalid.error.code, invalid.error.data.code],
      [null, -32600, 'ERR_JSONRPC_ID'],
    );
    p.send('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ec');
    p.child.stdin.end();
    await p.exit;
    assert.ok(
      p.lines.map((l) => JSON.parse(l)).some((m) => m.id === null && m.error?.code === -32700),
      'a partial last line is refused',
    );
  });

  it("the server exit code becomes intentguard's; a server crash mid-call answers the pending request", async () => {
    const p = rawProxy();
    p.send('{"jsonrpc":"2.0","id":1,"method":"hang"}');
    await new Promise((r) => setTimeout(r, 100));
    p.send('{"jsonrpc":"2.0","id":2,"method":"exit","params":{"code":3}}');
    assert.equal(await p.exit, 3);
    const answers = p.lines.map((l) => JSON.parse(l));
    const pending = answers.find((m) => m.id === 1)!;
    assert.match(pending.error.message, /server exited \(code 3\)/);
  });

  it('with grants configured: a valid grant in INTENTGUARD_GRANT opens the session, a bad one is refused with its code', async () => {
    const keys = await generateKeys();
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.publicJwks));
    const auth = [
      '--jwks',
      join(dir, 'jwks.json'),
      '--issuer',
      'https://idp.test',
      '--audience',
      'https://ig.test/mcp',
    ];
    const good = await mintGrant({
      privateJwk: keys.privateJwk,
      iss: 'https://idp.test',
      aud: 'https://ig.test/mcp',
      sub: 'agent:stdio',
      ttl: '5m',
      intent: { purpose: 'p', tools: ['echo'] },
    });
    const ok = rawProxy(auth, undefined, { INTENTGUARD_GRANT: good });
    ok.send('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}');
    await waitFor(() => ok.lines.length >= 1, 'answer');
    assert.ok(JSON.parse(ok.lines[0]!).result);
    ok.child.stdin.end();
    await ok.exit;
    const bad = rawProxy(auth, undefined, { INTENTGUARD_GRANT: good.slice(0, -4) + 'AAAA' });
    bad.send('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}');
    await waitFor(() => bad.lines.length >= 1, 'refusal');
    assert.equal(JSON.parse(bad.lines[0]!).error.data.code, 'ERR_GRANT_SIGNATURE');
    bad.child.stdin.end();
    assert.equal(await bad.exit, 1);
    assert.match(bad.stderr(), /grant refused: ERR_GRANT_SIGNATURE/);
    // The grant stays checked for the life of the session: revoked from another process with
    // `intentguard revoke`, the next call halts the session (and the server).
    const live = await mintGrant({
      privateJwk: keys.privateJwk,
      iss: 'https://idp.test',
      aud: 'https://ig.test/mcp',
      sub: 'agent:stdio',
      ttl: '5m',
      jti: 'stdio-live',
      intent: { purpose: 'p', tools: ['echo'] },
    });
    const running = rawProxy(auth, undefined, { INTENTGUARD_GRANT: live, SERVER_API_KEY: 'for-the-server' });
    running.send('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}');
    await waitFor(() => running.lines.length >= 1, 'the first answer');
    assert.ok(JSON.parse(running.lines[0]!).result);
    // The server gets its own environment, never intentguard's settings and secrets (the agent's grant).
    running.send('{"jsonrpc":"2.0","id":"e1","method":"env","params":{"name":"INTENTGUARD_GRANT"}}');
    running.send('{"jsonrpc":"2.0","id":"e2","method":"env","params":{"name":"SERVER_API_KEY"}}');
    await waitFor(() => running.lines.length >= 3, 'the environment answers');
    const envOf = (id: string) =>
      JSON.parse(running.lines.find((l) => l.includes(`"id":"${id}"`))!).result.value;
    assert.equal(envOf('e1'), null);
    assert.equal(envOf('e2'), 'for-the-server');
    running.lines.splice(1);
    const revoked = await run(process.execPath, [
      'bin/intentguard.js',
      'revoke',
      'stdio-live',
      '--db',
      running.db,
      '--reason',
      'laptop stolen',
    ]);
    assert.match(revoked.stdout, /revoked/);
    running.send('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}');
    await waitFor(() => running.lines.length >= 2, 'the answer after the revocation');
    const halted = JSON.parse(running.lines[1]!);
    assert.equal(halted.error.code, RPC_CODES.HALTED);
    assert.match(halted.error.message, /revoked while this session was open/);
    await running.exit;
  });

  it('back-pressure: while the server does not read, intentguard stops reading the client instead of buffering without bound', async () => {
    const p = spawnCli([
      'stdio',
      '--intent',
      intentFile,
      '--no-record',
      '--',
      process.execPath,
      '-e',
      'setInterval(() => {}, 1000)',
    ]);
    p.stdin.on('error', () => undefined); // what is still buffered when the proxy is stopped
    const line = `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { pad: 'x'.repeat(1000) } })}\n`;
    let accepted = 0;
    const until = Date.now() + 3000;
    // Write as fast as the pipe takes it (respecting its own back-pressure) for a while.
    while (Date.now() < until && accepted < 20_000_000) {
      if (p.stdin.write(line)) accepted += line.length;
      else await new Promise((r) => setTimeout(r, 10));
      if (accepted % 200_000 < line.length) await new Promise((r) => setImmediate(r));
    }
    const exited = new Promise((r) => p.once('exit', r));
    p.kill();
    await exited;
    assert.ok(accepted < 5_000_000, `the proxy kept reading: ${accepted} bytes accepted from the client`);
  });

  it('a halt stops the server and answers in-flight requests', async () => {
    writeFileSync(join(dir, 'budget.yaml'), 'purpose: two calls\ntools: [echo]\nbudget: { calls: 1 }\n');
    const p = spawnCli([
      'stdio',
      '--intent',
      join(dir, 'budget.yaml'),
      '--no-record',
      '--',
      'node',
      'test/fixtures/raw-server.mjs',
    ]);
    const lines = collectLines(p.stdout);
    p.stdin.write(INIT);
    p.stdin.write('{"jsonrpc":"2.0","id":1,"method":"hang"}\n');
    p.stdin.write('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}\n');
    p.stdin.write('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}}}\n');
    const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    const answers = lines.map((l) => JSON.parse(l));
    assert.equal(answers.find((m) => m.id === 3)?.error?.code, RPC_CODES.HALTED);
    assert.equal(
      answers.find((m) => m.id === 1)?.error?.code,
      RPC_CODES.HALTED,
      'the hanging request is answered, not left to time out',
    );
    assert.notEqual(code, 0);
  });
});
