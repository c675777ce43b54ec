// Issue 18: HTTP sessions that never send DELETE. A client that exits without it leaves its session
// open; sequential runs of one agent must not raise identity/shared-credential (only sessions in use
// count), two runs at once must; and the idle timeout that closes the leftovers is a proxy setting.
// Real SDK clients, the real HTTP proxy, a real SDK server upstream, real CLI processes and SQLite files.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Alert } from '../../src/index.js';
import { createRuntime } from '../../src/app/runtime.js';
import { mintGrant } from '../../src/identity/grant.js';
import { generateKeys } from '../../src/identity/keys.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { httpUpstream } from '../helpers/http-upstream.js';
import { waitFor } from '../helpers/wait.js';
import { INIT, JSON_HEADERS } from '../adversarial/raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-http-sessions-'));
const ISS = 'https://idp.test';
const AUD = 'https://intentguard.test/mcp';
const bin = resolve('bin/intentguard.js');
const MEMORY = resolve('node_modules/@modelcontextprotocol/server-memory/dist/index.js');

async function connect(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'agent-run', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(
      new URL(url),
      token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : undefined,
    ),
  );
  return client;
}

/** A proxy requiring grants in front of a real SDK server, its alerts, and a grant for one agent. */
async function grantedStack(sub: string, tools: string[]) {
  const keys = await generateKeys();
  const jwks = join(dir, `jwks-${sub.replace(/\W/g, '-')}.json`);
  writeFileSync(jwks, JSON.stringify(keys.publicJwks));
  const upstream = await httpUpstream();
  const runtime = await createRuntime({
    mode: 'enforce',
    db: false,
    pack: true,
    rules: [],
    auth: { jwks, issuers: [ISS], audience: AUD },
    log: () => undefined,
  });
  const proxy = await startHttpProxy({ upstream: upstream.url, runtime, resource: AUD });
  const alerts: Alert[] = [];
  runtime.monitor.alerts$.subscribe((a) => alerts.push(a));
  const token = await mintGrant({
    privateJwk: keys.privateJwk,
    iss: ISS,
    aud: AUD,
    sub,
    ttl: '10m',
    intent: { purpose: `${tools.join(' and ')} things`, tools },
  });
  return {
    runtime,
    proxy,
    token,
    shared: () => alerts.filter((a) => a.rule === 'identity/shared-credential'),
    async close() {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    },
  };
}

describe('HTTP sessions left open by clients that exit without DELETE', () => {
  it('sequential runs of one grant are no shared credential; two runs in use at once are', async () => {
    const { runtime, proxy, token, shared, close } = await grantedStack('agent:nightly', ['echo']);
    try {
      // Three runs, one after the other, each leaving without DELETE (client.close() only drops the
      // connection): their sessions stay open on the proxy, unused.
      for (let run = 0; run < 3; run++) {
        const client = await connect(proxy.url, token);
        await client.callTool({ name: 'echo', arguments: { text: `run ${run}` } });
        await client.close();
      }
      assert.equal(runtime.monitor.sessions().length, 3, 'the runs left their sessions open');
      assert.deepEqual(shared(), [], 'sequential runs are not a shared credential');

      // Two runs at once: the older one is used after the newer one opened.
      const a = await connect(proxy.url, token);
      const b = await connect(proxy.url, token);
      await b.callTool({ name: 'echo', arguments: { text: 'b' } });
      assert.deepEqual(shared(), [], 'nothing yet: the older session has not been used since');
      await a.callTool({ name: 'echo', arguments: { text: 'a' } });
      await waitFor(() => shared().length > 0, 'the shared-credential alert');
      const alert = shared()[0]!;
      assert.equal(alert.code, 'ERR_GRANT_SHARED');
      assert.match(alert.reason, /in use by 2 concurrent sessions/);
      // The alert names the two sessions in use, not the three the earlier runs left behind.
      const [sessionA, sessionB] = runtime.monitor.sessions().slice(-2);
      assert.ok(alert.reason.includes(sessionA!.id) && alert.reason.includes(sessionB!.id), alert.reason);
      await a.close();
      await b.close();
    } finally {
      await close();
    }
  });

  it('a session with a request in flight when another of its grant opens is in use', async () => {
    const { runtime, proxy, token, shared, close } = await grantedStack('agent:parallel', ['slow', 'echo']);
    try {
      const a = await connect(proxy.url, token);
      // `slow` answers after ten minutes: its request is pending while the second session opens.
      const slow = a.callTool({ name: 'slow', arguments: { ms: 600_000 } }).catch(() => undefined);
      await waitFor(
        () => runtime.monitor.sessions().some((s) => s.pending.size > 0),
        'the slow call in flight',
      );
      const b = await connect(proxy.url, token);
      await waitFor(() => shared().length > 0, 'the alert');
      await a.close();
      await slow;
      await b.close();
    } finally {
      await close();
    }
  });

  it('--session-idle-timeout closes a session its client left; a bare number is ERR_DURATION', async () => {
    const bare = spawn(process.execPath, [
      bin,
      'http',
      '--listen',
      '127.0.0.1:0',
      '--session-idle-timeout',
      '5',
      '--',
      process.execPath,
      MEMORY,
    ]);
    let bareErr = '';
    bare.stderr.on('data', (c: Buffer) => (bareErr += c.toString()));
    const bareCode = await new Promise<number | null>((r) => bare.on('close', r));
    assert.equal(bareCode, 2);
    assert.match(bareErr, /ERR_DURATION: --session-idle-timeout needs a unit/);

    writeFileSync(join(dir, 'memory-intent.yaml'), 'purpose: remember things\ntools: "*"\n');
    const db = join(dir, 'idle.db');
    const child = spawn(process.execPath, [
      bin,
      'http',
      '--listen',
      '127.0.0.1:0',
      '--intent',
      join(dir, 'memory-intent.yaml'),
      '--db',
      db,
      '--session-idle-timeout',
      '1s',
      '--',
      process.execPath,
      MEMORY,
    ]);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      await waitFor(() => /intentguard http: (http:\/\/\S+)/.test(stderr), 'the proxy to listen', 60_000);
      const url = /intentguard http: (http:\/\/\S+)/.exec(stderr)![1]!;
      // One initialize POST, then nothing (no DELETE): the client is gone from its first answer on. An
      // SDK client is not used here: its next messages (notifications/initialized, the call) could
      // themselves arrive after the 1 s timeout on a slow machine and find the session closed.
      const opened = await fetch(url, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(INIT) });
      assert.equal(opened.status, 200, await opened.clone().text());
      assert.ok(opened.headers.get('mcp-session-id'));
      assert.match(await opened.text(), /"serverInfo"/);
      const ended = () => {
        const conn = new Database(db, { readonly: true, fileMustExist: true });
        try {
          return conn.prepare('SELECT status FROM sessions WHERE ended_at IS NOT NULL').all() as {
            status: string;
          }[];
        } finally {
          conn.close();
        }
      };
      await waitFor(() => ended().length === 1, 'the idle session to be closed', 60_000);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('close', r));
    }
  });
});
