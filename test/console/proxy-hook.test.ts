import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { ADMIN_TOKEN, type Json } from './fixture.js';
import { proxiedClient } from './fixture.js';

type Agent = Awaited<ReturnType<typeof proxiedClient>>;

/**
 * Through the console the proxy serves: the API refuses without the token, the live session is listed,
 * and a held write approved there completes.
 */
async function approveThroughConsole(agent: Agent): Promise<void> {
  await waitFor(() => /console on http:\/\/127\.0\.0\.1:\d+/.test(agent.stderr()), 'the console address');
  const url = /console on (http:\/\/127\.0\.0\.1:\d+)/.exec(agent.stderr())![1]!;
  const get = async (path: string) =>
    (await (
      await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json()) as Json;
  assert.equal((await fetch(`${url}/api/sessions`)).status, 401);
  await agent.client.callTool({ name: 'list_directory', arguments: { path: agent.folder } });
  const call = agent.client.callTool({
    name: 'write_file',
    arguments: { path: join(agent.folder, 'a.md'), content: 'x' },
  });
  let pending: Json[] = [];
  while (pending.length === 0) {
    pending = (await get('/api/approvals?state=pending')).approvals;
    if (pending.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(pending[0].tool, 'write_file');
  let sessions: Json[] = [];
  while (sessions.length === 0) {
    sessions = (await get('/api/sessions')).sessions;
    if (sessions.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(sessions[0].endedAt, null);
  const r = await fetch(`${url}/api/approvals/${pending[0].id}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve', scope: 'once' }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const result = (await call) as { isError?: boolean };
  assert.notEqual(result.isError, true);
}

describe('--console-port on a proxy', () => {
  it('serves the console beside the traffic: the live session is listed and a held call approved there completes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-console-hook-'));
    const agent = await proxiedClient({
      db: join(dir, 'hook.db'),
      dir,
      intent: 'purpose: read the notes\ntools: [list_directory, read_text_file]\n',
      extra: ['--console-port', '0'],
      env: { INTENTGUARD_CONSOLE_TOKEN: ADMIN_TOKEN },
    });
    try {
      await approveThroughConsole(agent);
    } finally {
      await agent.close();
    }
  });

  describe("on a fleet's PostgreSQL (--store postgres://…)", () => {
    let server: TempPostgres;
    before(async () => {
      server = await startPostgres();
    });
    after(() => server?.stop());

    it('serves the console over the shared tables: the live session is listed and a held call approved there completes', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ig-console-hook-pg-'));
      const agent = await proxiedClient({
        db: server.createDatabase('hook_pg'),
        dir,
        intent: 'purpose: read the notes\ntools: [list_directory, read_text_file]\n',
        extra: ['--console-port', '0'],
        env: { INTENTGUARD_CONSOLE_TOKEN: ADMIN_TOKEN, INTENTGUARD_AUDIT_KEY: join(dir, 'fleet.key') },
      });
      try {
        await approveThroughConsole(agent);
      } finally {
        await agent.close();
      }
    });
  });
});
