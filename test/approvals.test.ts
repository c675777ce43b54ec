import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  createApprovals,
  databaseChannel,
  elicitationChannel,
  webhookChannel,
  type Approvals,
} from '../src/approvals/approvals.js';
import {
  createMonitor,
  loadRulePack,
  packPolicies,
  parseIntent,
  tap,
  RPC_CODES,
  type Decision,
  type Monitor,
} from '../src/index.js';
import { openStore } from '../src/store/db.js';
import { demoServer } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';

const intent = parseIntent({ purpose: 'summarise my notes', tools: ['echo', 'read_notes'] });

async function session(opts: {
  approvals: (m: () => Monitor) => Approvals;
  elicit?: (params: unknown) => Promise<unknown>;
  timeoutMs?: number;
  pack?: boolean;
}) {
  let monitor!: Monitor;
  const approvals = opts.approvals(() => monitor);
  monitor = createMonitor({
    approver: approvals.approver,
    approvalTimeoutMs: opts.timeoutMs ?? 5000,
    ...(opts.pack && { policy: packPolicies(loadRulePack()) }),
  });
  const decisions: Decision[] = [];
  monitor.decisions$.subscribe((d) => decisions.push(d));
  const server = demoServer();
  const sent: string[] = [];
  const [c, s] = InMemoryTransport.createLinkedPair();
  await server.connect(s);
  const prev = s.onmessage!;
  s.onmessage = (m, e) => {
    if ('method' in m && m.method === 'tools/call')
      sent.push(JSON.stringify((m.params as { arguments: unknown }).arguments));
    prev(m, e);
  };
  const client = new Client(
    { name: 'agent', version: '1' },
    { capabilities: opts.elicit ? { elicitation: {} } : {} },
  );
  if (opts.elicit)
    client.setRequestHandler(ElicitRequestSchema, async (req) => (await opts.elicit!(req.params)) as never);
  const transport = tap(c, monitor, { side: 'client', intent, identity: { sub: 'agent:x' } });
  await client.connect(transport);
  return { monitor, approvals, client, transport, decisions, sent };
}

describe('re-authorization (step-up)', () => {
  it('a drift is held, approved by the user over elicitation, and proceeds', async () => {
    const prompts: { message: string }[] = [];
    const t = await session({
      approvals: (m) => createApprovals(m, { channels: [elicitationChannel()] }),
      elicit: async (params) => {
        prompts.push(params as { message: string });
        return { action: 'accept', content: { approve: true, scope: 'once' } };
      },
    });
    const res = await t.client.callTool({
      name: 'send_email',
      arguments: { to: 'boss@corp.test', body: 'password: hunter2hunter2' },
    });
    assert.deepEqual(res.content, [{ type: 'text', text: 'sent to boss@corp.test' }]);
    assert.equal(t.sent.length, 1);
    assert.equal(prompts.length, 1);
    assert.match(prompts[0]!.message, /agent:x wants to call send_email/);
    assert.match(prompts[0]!.message, /outside approved tools/);
    assert.ok(!prompts[0]!.message.includes('hunter2'), 'the prompt shows a redacted summary');
    const [h] = t.approvals.history();
    assert.equal(h!.status, 'approved');
    assert.equal(h!.approver, 'user:elicitation');
    assert.equal(h!.tool, 'send_email');
    // The prompt and its answer were observed too (synthetic events), and never reached the server.
    const prompt = t.transport.session.state();
    assert.equal(prompt.pending.size, 0);
    await t.client.close();
    t.monitor.close();
  });

  it('the same drift is denied when nobody answers in time', async () => {
    const t = await session({
      approvals: (m) => createApprovals(m, { channels: [elicitationChannel()] }),
      elicit: () => new Promise(() => {}),
      timeoutMs: 150,
    });
    await assert.rejects(
      t.client.callTool({ name: 'send_email', arguments: { to: 'boss@corp.test', body: 'hi' } }),
      (e: unknown) => {
        assert.equal((e as McpError).code, RPC_CODES.DENIED);
        assert.equal(((e as McpError).data as { code: string }).code, 'ERR_REAUTH_REQUIRED');
        return true;
      },
    );
    assert.equal(t.sent.length, 0);
    assert.equal(t.approvals.history()[0]!.status, 'expired');
    await t.client.close();
    t.monitor.close();
  });

  it('an approval cannot be reused for other arguments (a replayed webhook answer is refused)', async () => {
    const secret = 'hook-secret';
    let last: { approval_id: string; args_digest: string } | undefined;
    let first: { approval_id: string; args_digest: string } | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req
        .on('data', (c) => (body += c))
        .on('end', () => {
          const ts = String(req.headers['x-intentguard-timestamp']);
          const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
          assert.equal(req.headers['x-intentguard-signature'], expected, 'the request is signed');
          const p = JSON.parse(body) as { approval_id: string; args_digest: string };
          first ??= p;
          last = p;
          // Always answer with the FIRST approval's binding: fine once, a replay the second time.
          const answer = JSON.stringify({
            decision: 'approve',
            approver: 'soc:carol',
            approval_id: first.approval_id,
            args_digest: first.args_digest,
          });
          const rts = String(Math.floor(Date.now() / 1000));
          res
            .writeHead(200, {
              'content-type': 'application/json',
              'x-intentguard-timestamp': rts,
              'x-intentguard-signature': `sha256=${createHmac('sha256', secret).update(`${rts}.${answer}`).digest('hex')}`,
            })
            .end(answer);
        });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/approve`;
    const t = await session({
      approvals: (m) => createApprovals(m, { channels: [webhookChannel(url, secret)] }),
    });
    const ok = await t.client.callTool({
      name: 'send_email',
      arguments: { to: 'boss@corp.test', body: 'report' },
    });
    assert.deepEqual(ok.content, [{ type: 'text', text: 'sent to boss@corp.test' }]);
    await assert.rejects(
      t.client.callTool({ name: 'send_email', arguments: { to: 'eve@evil.test', body: 'report' } }),
    );
    assert.notEqual(last!.args_digest, first!.args_digest);
    assert.deepEqual(
      t.approvals.history().map((h) => [h.status, h.approver]),
      [
        ['approved', 'webhook:soc:carol'],
        ['rejected', 'webhook:soc:carol'],
      ],
    );
    assert.equal(t.sent.length, 1);
    await t.client.close();
    t.monitor.close();
    server.close();
  });

  it('intentguard approve ID (the command line, through the database) lets the held call through', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'ig-apr-')), 'intentguard.db');
    const store = openStore(db);
    const t = await session({
      approvals: (m) => createApprovals(m, { channels: [databaseChannel(store, 20)], store }),
    });
    const call = t.client.callTool({ name: 'send_email', arguments: { to: 'boss@corp.test', body: 'hi' } });
    await waitFor(() => t.approvals.pending().length === 1, 'a pending approval');
    const id = t.approvals.pending()[0]!.id;
    const out = await promisify(execFile)(process.execPath, [
      'bin/intentguard.js',
      'approve',
      id,
      '--db',
      db,
      '--by',
      'alice',
    ]);
    assert.match(out.stdout, new RegExp(`approved ${id} \\(send_email`));
    assert.deepEqual((await call).content, [{ type: 'text', text: 'sent to boss@corp.test' }]);
    const row = store.db.prepare('SELECT status, approver FROM approvals WHERE id = ?').get(id) as {
      status: string;
      approver: string;
    };
    assert.deepEqual(row, { status: 'approved', approver: 'alice' });
    const again = await promisify(execFile)(process.execPath, [
      'bin/intentguard.js',
      'deny',
      id,
      '--db',
      db,
    ]).catch((e: { stderr: string }) => e);
    assert.match(again.stderr, /ERR_APPROVAL_DONE/);
    await t.client.close();
    t.monitor.close();
    store.close();
  });

  it('closing the approvals denies what is held, seals it expired by shutdown, and refuses what comes after', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'ig-apr-')), 'intentguard.db');
    const store = openStore(db);
    const t = await session({
      approvals: (m) => createApprovals(m, { channels: [databaseChannel(store, 20)], store }),
      timeoutMs: 60_000,
    });
    const call = t.client.callTool({ name: 'send_email', arguments: { to: 'boss@corp.test', body: 'hi' } });
    await waitFor(() => t.approvals.pending().length === 1, 'a pending approval');
    const id = t.approvals.pending()[0]!.id;
    await t.approvals.close();
    // Sealed before close() resolved: the store can close right after, and nothing polls it any more.
    const row = store.db.prepare('SELECT status, approver FROM approvals WHERE id = ?').get(id);
    assert.deepEqual(row, { status: 'expired', approver: 'shutdown' });
    store.close();
    const refused = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof McpError, 'the held call is refused, not let through');
    assert.equal(t.sent.length, 0);
    assert.equal(t.approvals.pending().length, 0);
    const late = t.client.callTool({
      name: 'send_email',
      arguments: { to: 'boss@corp.test', body: 'again' },
    });
    assert.ok(
      (await late.then(
        () => undefined,
        (e: unknown) => e,
      )) instanceof McpError,
    );
    assert.equal(t.sent.length, 0);
    assert.equal(t.approvals.history().at(-1)?.approver, 'shutdown');
    await t.client.close();
    t.monitor.close();
  });

  it('intentguard approve ID --scope intent widens the intent (a new intent version, the tool allowed after)', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'ig-apr-')), 'intentguard.db');
    const store = openStore(db);
    const t = await session({
      pack: true,
      approvals: (m) => createApprovals(m, { channels: [databaseChannel(store, 20)], store }),
    });
    const call = t.client.callTool({ name: 'send_email', arguments: { to: 'a@corp.test', body: '1' } });
    await waitFor(() => t.approvals.pending().length === 1, 'a pending approval');
    const id = t.approvals.pending()[0]!.id;
    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['bin/intentguard.js', ...args]).catch(
        (e: { stderr: string; code: number }) => e,
      );
    const wrong = await cli('deny', id, '--db', db, '--scope', 'intent');
    assert.match((wrong as { stderr: string }).stderr, /ERR_CONFIG: --scope must be once or session/);
    const out = (await cli('approve', id, '--db', db, '--by', 'alice', '--scope', 'intent')) as {
      stdout: string;
    };
    assert.match(out.stdout, new RegExp(`approved ${id} \\(send_email`));
    assert.deepEqual((await call).content, [{ type: 'text', text: 'sent to a@corp.test' }]);
    const state = t.transport.session.state();
    assert.equal(state.intent.version, 2);
    assert.ok((state.intent.tools as { name: string }[]).some((x) => x.name === 'send_email'));
    // The widened intent decides the next call of the tool: allowed, no new approval.
    await t.client.callTool({ name: 'send_email', arguments: { to: 'b@corp.test', body: '2' } });
    assert.equal(t.approvals.history().length, 1);
    const last = t.decisions.filter((d) => d.tool === 'send_email' && d.kind === 'request').pop()!;
    assert.deepEqual([last.action, last.intentVersion], ['allow', 2]);
    const row = store.db.prepare('SELECT status, approver, scope FROM approvals WHERE id = ?').get(id);
    assert.deepEqual(row, { status: 'approved', approver: 'alice', scope: 'intent' });
    await t.client.close();
    t.monitor.close();
    store.close();
  });

  it('a session-scoped approval covers the tool for the rest of the session; an intent-scoped one creates a new intent version', async () => {
    let asked = 0;
    const scope = { value: 'session' as 'session' | 'intent' };
    const t = await session({
      pack: true,
      approvals: (m) =>
        createApprovals(m, {
          channels: [
            async (p) => {
              asked++;
              return { approved: true, approver: 'bob', scope: scope.value, approvalId: p.id };
            },
          ],
        }),
    });
    await t.client.callTool({ name: 'send_email', arguments: { to: 'a@corp.test', body: '1' } });
    await t.client.callTool({ name: 'send_email', arguments: { to: 'b@corp.test', body: '2' } });
    assert.equal(asked, 1, 'asked once for the session');
    await t.client.close();
    t.monitor.close();

    asked = 0;
    scope.value = 'intent';
    const u = await session({
      pack: true,
      approvals: (m) =>
        createApprovals(m, {
          channels: [
            async (p) => {
              asked++;
              return { approved: true, approver: 'bob', scope: 'intent', approvalId: p.id };
            },
          ],
        }),
    });
    await u.client.callTool({ name: 'send_email', arguments: { to: 'a@corp.test', body: '1' } });
    assert.equal(u.transport.session.state().intent.version, 2);
    assert.ok(
      (u.transport.session.state().intent.tools as { name: string }[]).some((x) => x.name === 'send_email'),
    );
    await u.client.callTool({ name: 'send_email', arguments: { to: 'b@corp.test', body: '2' } });
    assert.equal(asked, 1, 'the widened intent approves the tool');
    const last = u.decisions.filter((d) => d.tool === 'send_email' && d.kind === 'request').pop()!;
    assert.equal(last.action, 'allow');
    assert.equal(last.intentVersion, 2);
    await u.client.close();
    u.monitor.close();
  });
});
