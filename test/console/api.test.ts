import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApprovals, databaseChannel } from '../../src/approvals/approvals.js';
import { esc, html, href } from '../../src/console/escape.js';
import { CSP } from '../../src/console/http.js';
import { createMonitor, loadRulePack, packPolicies, type Monitor } from '../../src/index.js';
import { createRecorder, type Recorder } from '../../src/store/recorder.js';
import { verifyAudit } from '../../src/store/audit.js';
import { tappedClient } from '../helpers/session.js';
import { waitFor } from '../helpers/wait.js';
import { ADMIN_TOKEN, api, consoleOn, type Json } from './fixture.js';
import { TOKEN_EXCHANGE } from '../../src/console/grants.js';
import { sessionsPage, verifyNotes } from '../../src/console/queries.js';
import { generateKeys, resolveKeys } from '../../src/identity/keys.js';
import { verifyGrant } from '../../src/identity/grant.js';

const HOSTILE = [
  '<script>alert(1)</script>',
  '"onload="alert(1)',
  "' onmouseover='alert(1)",
  'javascript:alert(1)',
  '</textarea><img src=x onerror=alert(1)>',
  '`${alert(1)}`',
  '\u0000\u001b[31m',
];

describe('console escaping helper', () => {
  it('escapes every hostile name, purpose, reason and argument into inert text', () => {
    for (const h of HOSTILE) {
      const out = html`<td title="${h}">${h}</td>
        <a href="${href('/sessions/' + encodeURIComponent(h))}">x</a>`.text;
      assert.doesNotMatch(out, /<script|<img|on\w+=|"on|'on/i, out);
      // Only the template's own quotes and tags remain.
      assert.equal(out.split('"').length, 5, out);
      assert.ok(!out.includes('javascript:alert') || out.includes('/sessions/javascript%3Aalert'), out);
    }
    assert.equal(esc({ a: '<b>' }), '{&quot;a&quot;:&quot;&lt;b&gt;&quot;}');
    assert.equal(esc('\u001b'), '\\u001b');
    assert.throws(() => href('javascript:alert(1)'));
    assert.throws(() => href('//evil.example/x'));
  });
});

describe('console server', () => {
  let ctx: Awaited<ReturnType<typeof consoleOn>>;
  let monitor: Monitor;
  let recorder: Recorder;
  before(async () => {
    ctx = await consoleOn();
    const approvals = createApprovals(() => monitor, {
      channels: [databaseChannel(ctx.store, 50)],
      store: ctx.store,
      timeoutMs: 60_000,
    });
    monitor = createMonitor({
      policy: packPolicies(loadRulePack()),
      approver: approvals.approver,
      approvalTimeoutMs: 60_000,
    });
    recorder = createRecorder(ctx.store, monitor);
  });
  after(async () => {
    await recorder.close();
    monitor.close();
    await ctx.close();
  });

  /** A real session through the tap whose `send_email` call is held for approval. */
  async function heldCall(sub: string, act?: string) {
    const client = await tappedClient(
      monitor,
      { purpose: 'summarise my notes <script>x</script>', tools: ['echo', 'read_notes'] },
      { sub, ...(act && { act: { sub: act } }) },
    );
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const call = client.callTool({ name: 'send_email', arguments: { to: 'ops@example.com', body: 'notes' } });
    // A denial may settle the call while the test is still awaiting the decision's POST: observe it now,
    // so the runner does not report an unhandled rejection; tests still await `call` for its outcome.
    void call.catch(() => undefined);
    let pending: { id: string; sub: string; tool: string; args: unknown; allowed: unknown }[] = [];
    await waitFor(() => {
      void api(ctx.console, '/api/approvals?state=pending', { bearer: ADMIN_TOKEN })
        .then((r) => r.json())
        .then((j: Json) => (pending = j.approvals));
      return pending.some((p) => p.sub === sub);
    }, 'the held call to be listed');
    return { client, call, approval: pending.find((p) => p.sub === sub)! };
  }

  it('answers 401 on every route without a valid login, and the login page with 200', async () => {
    for (const path of [
      '/',
      '/sessions',
      '/sessions/x',
      '/approvals',
      '/alerts',
      '/audit',
      '/audit/export',
      '/rules',
      '/grants',
      '/static/console.js',
      '/api/sessions',
      '/api/approvals?state=pending',
      '/api/events',
      '/nope',
    ])
      assert.equal((await api(ctx.console, path)).status, 401, path);
    assert.equal(
      (await api(ctx.console, '/api/sessions', { bearer: 'wrong-token-wrong-token' })).status,
      401,
    );
    const expired = await ctx.idp.jwt('alice', { role: 'admin' }, -10);
    assert.equal((await api(ctx.console, '/api/sessions', { bearer: expired })).status, 401);
    const r = await api(ctx.console, '/api/approvals/apr-x', {
      method: 'POST',
      body: { decision: 'approve' },
    });
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as Json).error.code, 'ERR_CONSOLE_AUTH');
    const login = await api(ctx.console, '/login');
    assert.equal(login.status, 200);
    assert.equal(login.headers.get('content-security-policy'), CSP);
    assert.doesNotMatch(CSP, /unsafe-inline|unsafe-eval/);
  });

  it('lists sessions with keyset pagination and serves a timeline, escaped in the page', async () => {
    const { client, call, approval } = await heldCall('agent:pager');
    // The held approval is written at once; the events go through the recording thread.
    await recorder.flush();
    const first = (await (
      await api(ctx.console, '/api/sessions?limit=1', { bearer: ADMIN_TOKEN })
    ).json()) as Json;
    assert.equal(first.sessions.length, 1);
    const id = first.sessions[0].id;
    const t = (await (
      await api(ctx.console, `/api/sessions/${encodeURIComponent(id)}`, { bearer: ADMIN_TOKEN })
    ).json()) as Json;
    assert.ok(t.entries.some((e: Json) => e.tool === 'echo'));
    assert.equal(t.session.intent.purpose, 'summarise my notes <script>x</script>');
    // The bad-parameter path answers with a code, not a stack.
    const badPage = await api(ctx.console, '/api/sessions?before=abc', { bearer: ADMIN_TOKEN });
    assert.equal(badPage.status, 400);
    assert.equal(((await badPage.json()) as Json).error.code, 'ERR_CONSOLE_REQUEST');
    const badId = await api(ctx.console, '/api/sessions/%E0%A4%A', { bearer: ADMIN_TOKEN });
    assert.equal(badId.status, 400);
    assert.equal((await api(ctx.console, '/api/sessions/nope', { bearer: ADMIN_TOKEN })).status, 404);
    await api(ctx.console, `/api/approvals/${approval.id}`, {
      method: 'POST',
      bearer: ADMIN_TOKEN,
      body: { decision: 'deny' },
    });
    await assert.rejects(call);
    await client.close();
  });

  it('a viewer cannot approve; an approver cannot approve their own call; another approver can, and it is recorded', async () => {
    const { client, call, approval } = await heldCall('alice', 'carol');
    assert.deepEqual(approval.args, { to: 'ops@example.com', body: 'notes' });
    assert.equal(approval.allowed, null);
    const viewer = await ctx.idp.jwt('victor', { role: 'viewer' });
    let r = await api(ctx.console, `/api/approvals/${approval.id}`, {
      method: 'POST',
      bearer: viewer,
      body: { decision: 'approve' },
    });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as Json).error.code, 'ERR_CONSOLE_ROLE');
    for (const self of ['alice', 'carol']) {
      const own = await ctx.idp.jwt(self, { roles: ['approver'] });
      r = await api(ctx.console, `/api/approvals/${approval.id}`, {
        method: 'POST',
        bearer: own,
        body: { decision: 'approve' },
      });
      assert.equal(r.status, 403, self);
      assert.equal(((await r.json()) as Json).error.code, 'ERR_CONSOLE_SELF_APPROVAL');
    }
    const bob = await ctx.idp.jwt('bob', { role: 'approver' });
    r = await api(ctx.console, `/api/approvals/${approval.id}`, {
      method: 'POST',
      bearer: bob,
      body: { decision: 'approve', scope: 'sideways' },
    });
    assert.equal(r.status, 400);
    r = await api(ctx.console, `/api/approvals/${approval.id}`, {
      method: 'POST',
      bearer: bob,
      body: { decision: 'approve', scope: 'once' },
    });
    assert.equal(r.status, 200, await r.clone().text());
    const result = (await call) as { content: { text: string }[] };
    assert.equal(result.content[0]!.text, 'sent to ops@example.com');
    r = await api(ctx.console, `/api/approvals/${approval.id}`, {
      method: 'POST',
      bearer: bob,
      body: { decision: 'approve' },
    });
    assert.equal(r.status, 409);
    await recorder.flush();
    const row = ctx.store.db
      .prepare('SELECT status, approver, scope FROM approvals WHERE id = ?')
      .get(approval.id) as Json;
    assert.deepEqual(row, { status: 'approved', approver: 'console:bob', scope: 'once' });
    assert.equal(verifyAudit(ctx.store).problems.length, 0);
    await client.close();
  });

  it('the approver is recorded with one console: prefix: the admin token as console:admin-token, a JWT login as console:<sub>', async () => {
    const byToken = await heldCall('dora');
    let r = await api(ctx.console, `/api/approvals/${byToken.approval.id}`, {
      method: 'POST',
      bearer: ADMIN_TOKEN,
      body: { decision: 'approve' },
    });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(((await r.json()) as Json).approver, 'console:admin-token');
    await byToken.call;
    // A JWT whose own sub begins with console: is recorded as signed, behind the prefix (never merged with the token's).
    const byJwt = await heldCall('erin');
    r = await api(ctx.console, `/api/approvals/${byJwt.approval.id}`, {
      method: 'POST',
      bearer: await ctx.idp.jwt('console:admin-token', { role: 'approver' }),
      body: { decision: 'deny' },
    });
    assert.equal(r.status, 200, await r.clone().text());
    await byJwt.call.catch(() => undefined);
    await recorder.flush();
    const approvers = ctx.store.db
      .prepare('SELECT approver FROM approvals WHERE id IN (?, ?) ORDER BY rowid')
      .pluck()
      .all(byToken.approval.id, byJwt.approval.id);
    assert.deepEqual(approvers, ['console:admin-token', 'console:console:admin-token']);
    await byToken.client.close();
    await byJwt.client.close();
  });

  it('refuses a page state change without the CSRF token or from another origin', async () => {
    const login = await api(ctx.console, '/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(login.status, 401);
    const ok = await fetch(`${ctx.console.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: ADMIN_TOKEN }),
    });
    assert.equal(ok.status, 303);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    assert.match(ok.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
    const page = await (await fetch(`${ctx.console.url}/approvals`, { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const form = (extra: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${ctx.console.url}/approvals/apr-none`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ decision: 'approve-once', ...extra }),
      });
    assert.equal((await form({})).status, 403);
    // A token one character off (never the token itself: it may start with the character put in).
    assert.equal((await form({ csrf: (csrf[0] === 'x' ? 'y' : 'x') + csrf.slice(1) })).status, 403);
    assert.equal((await form({ csrf }, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await form({ csrf }, { 'sec-fetch-site': 'cross-site' })).status, 403);
    // With the token and same origin it reaches the handler: no such approval.
    assert.equal((await form({ csrf }, { origin: ctx.console.url })).status, 404);
    // A rebinding Host is refused.
    const rebind = await new Promise<number>((resolve, reject) => {
      const u = new URL(ctx.console.url);
      request(
        {
          host: u.hostname,
          port: u.port,
          path: '/api/sessions',
          headers: { host: 'evil.example', authorization: `Bearer ${ADMIN_TOKEN}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      )
        .on('error', reject)
        .end();
    });
    assert.equal(rebind, 421);
  });
});

describe('console timeline and pagination', () => {
  it('pages sessions by keyset cursor and links an argument value to the earlier result it came from', async () => {
    const ctx = await consoleOn();
    const monitor = createMonitor();
    const recorder = createRecorder(ctx.store, monitor);
    try {
      for (let i = 0; i < 3; i++) {
        const client = await tappedClient(
          monitor,
          { purpose: `task ${i}`, tools: ['echo', 'read_notes'] },
          { sub: `agent:${i}` },
        );
        await client.callTool({ name: 'read_notes', arguments: {} });
        await client.callTool({ name: 'echo', arguments: { text: 'meeting at 10' } });
        await client.close();
      }
      await recorder.flush();
      const get = async (path: string) =>
        (await (await api(ctx.console, path, { bearer: ADMIN_TOKEN })).json()) as Json;
      const p1 = await get('/api/sessions?limit=2');
      assert.deepEqual(
        p1.sessions.map((s: Json) => s.purpose),
        ['task 2', 'task 1'],
      );
      const p2 = await get(`/api/sessions?limit=2&before=${p1.next}`);
      assert.deepEqual(
        p2.sessions.map((s: Json) => s.purpose),
        ['task 0'],
      );
      assert.equal(p2.next, null);
      const t = await get(`/api/sessions/${encodeURIComponent(p2.sessions[0].id)}`);
      const result = t.entries.find((e: Json) => e.kind === 'response' && e.tool === 'read_notes');
      const echo = t.entries.find((e: Json) => e.kind === 'request' && e.tool === 'echo');
      assert.deepEqual(echo.provenance, [{ arg: 'text', value: 'meeting at 10', from: result.seq }]);
      // In the page, the value links to that result's row.
      const login = await fetch(`${ctx.console.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: ADMIN_TOKEN }),
      });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const page = await (
        await fetch(`${ctx.console.url}/sessions/${encodeURIComponent(p2.sessions[0].id)}`, {
          headers: { cookie },
        })
      ).text();
      assert.match(page, new RegExp(`<a\\s+class="prov"\\s+href="#ev-${result.seq}"`));
      assert.match(page, new RegExp(`<tr\\s+id="ev-${result.seq}"`));
    } finally {
      await recorder.close();
      monitor.close();
      await ctx.close();
    }
  });
});

describe('console token endpoint (RFC 8693 token exchange)', () => {
  it('grants a low-risk intent at once, holds a risky one, and refuses bad requests with OAuth errors', async () => {
    const keys = await generateKeys('ES256');
    const ctx = await consoleOn({
      grants: { privateJwk: keys.privateJwk, iss: 'console-test', aud: 'urn:test' },
    });
    try {
      const post = async (fields: Record<string, string>) => {
        const r = await fetch(`${ctx.console.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields),
        });
        return { status: r.status, body: (await r.json()) as Json };
      };
      const subject = await ctx.idp.jwt('agent:reader');
      const low = await post({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subject,
        intent: JSON.stringify({
          purpose: 'read notes',
          tools: ['read_text_file', 'list_directory'],
          budget: { calls: 10 },
        }),
      });
      assert.equal(low.status, 200, JSON.stringify(low.body));
      const grant = await verifyGrant(low.body.access_token, {
        keys: await resolveKeys({ jwks: keys.publicJwks }),
        issuers: ['console-test'],
        audience: 'urn:test',
      });
      assert.equal(grant.identity.sub, 'agent:reader');
      assert.equal(grant.intent?.purpose, 'read notes');
      const risky = await post({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subject,
        intent: JSON.stringify({ purpose: 'send mail', tools: ['send_email'], budget: { calls: 5 } }),
      });
      assert.equal(risky.body.error, 'authorization_pending');
      const again = await post({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subject,
        request_id: risky.body.request_id,
      });
      assert.equal(again.body.error, 'authorization_pending');
      // Another identity cannot collect it.
      const other = await post({
        grant_type: TOKEN_EXCHANGE,
        subject_token: await ctx.idp.jwt('agent:other'),
        request_id: risky.body.request_id,
      });
      assert.equal(other.body.error, 'invalid_request');
      assert.equal(
        (await post({ grant_type: 'password', subject_token: subject })).body.error,
        'unsupported_grant_type',
      );
      assert.equal(
        (await post({ grant_type: TOKEN_EXCHANGE, subject_token: ADMIN_TOKEN, intent: '{}' })).body.error,
        'invalid_grant',
      );
      assert.equal(
        (await post({ grant_type: TOKEN_EXCHANGE, subject_token: 'a.b.c', intent: '{}' })).body.error,
        'invalid_grant',
      );
      assert.equal(
        (await post({ grant_type: TOKEN_EXCHANGE, subject_token: subject, intent: '{"tools": 3}' })).body
          .error,
        'invalid_request',
      );
      // Delegation: the platform's own token as the actor; the grant names it, and the platform cannot
      // review the request it made on the agent's behalf.
      const platform = await ctx.idp.jwt('platform:runner', { role: 'approver' });
      const delegated = await post({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subject,
        actor_token: platform,
        actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        intent: JSON.stringify({ purpose: 'read notes', tools: ['read_text_file'], budget: { calls: 5 } }),
      });
      assert.equal(delegated.status, 200, JSON.stringify(delegated.body));
      const dg = await verifyGrant(delegated.body.access_token, {
        keys: await resolveKeys({ jwks: keys.publicJwks }),
        issuers: ['console-test'],
        audience: 'urn:test',
      });
      assert.deepEqual([dg.identity.sub, dg.identity.act?.sub], ['agent:reader', 'platform:runner']);
      assert.equal(
        (
          await post({
            grant_type: TOKEN_EXCHANGE,
            subject_token: subject,
            actor_token: 'a.b.c',
            intent: '{}',
          })
        ).body.error,
        'invalid_grant',
      );
      const heldForPlatform = await post({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subject,
        actor_token: platform,
        intent: JSON.stringify({ purpose: 'send mail', tools: ['send_email'], budget: { calls: 5 } }),
      });
      assert.equal(heldForPlatform.body.error, 'authorization_pending');
      await assert.rejects(
        ctx.console.grants!.decide(heldForPlatform.body.request_id, true, {
          sub: 'platform:runner',
          via: 'jwt',
        }),
        /your own grant request/,
      );
      // Without the actor token the request is not the caller's to collect.
      assert.equal(
        (
          await post({
            grant_type: TOKEN_EXCHANGE,
            subject_token: subject,
            request_id: heldForPlatform.body.request_id,
          })
        ).body.error,
        'invalid_request',
      );
      const rows = ctx.store.db
        .prepare("SELECT status, approver FROM approvals WHERE tool = 'grant' ORDER BY rowid")
        .all();
      assert.deepEqual(rows, [
        { status: 'approved', approver: 'console:auto-grant' },
        { status: 'pending', approver: null },
        { status: 'approved', approver: 'console:auto-grant' },
        { status: 'pending', approver: null },
      ]);
      assert.equal(verifyAudit(ctx.store).problems.length, 0);
    } finally {
      await ctx.close();
    }
  });
});

describe('console notes (acknowledgements, marks)', () => {
  it('are chained with the audit key: an edited or dropped note is found', async () => {
    const ctx = await consoleOn();
    try {
      const monitor = createMonitor();
      const recorder = createRecorder(ctx.store, monitor);
      const client = await tappedClient(
        monitor,
        { purpose: 'echo', tools: ['echo'] },
        { sub: 'agent:noted' },
      );
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      await client.close();
      await recorder.close();
      monitor.close();
      const id = sessionsPage(ctx.store).sessions[0]!.id;
      const bob = await ctx.idp.jwt('bob', { role: 'approver' });
      const markAs = (mark: string, bearer = bob) =>
        api(ctx.console, `/api/sessions/${encodeURIComponent(id)}/mark`, {
          method: 'POST',
          bearer,
          body: { mark },
        });
      assert.equal((await markAs('benign')).status, 200);
      assert.equal((await markAs('attack')).status, 200);
      assert.equal((await markAs('sideways')).status, 400);
      assert.equal((await markAs('benign', await ctx.idp.jwt('victor'))).status, 403);
      assert.equal(sessionsPage(ctx.store).sessions[0]!.mark, 'attack');
      assert.deepEqual(verifyNotes(ctx.store), { notes: 2, broken: null });
      // Someone with the database but not the key turns the attack mark back into benign.
      ctx.store.db.prepare("UPDATE console_notes SET value = 'benign' WHERE value = 'attack'").run();
      assert.deepEqual(verifyNotes(ctx.store).broken, {
        rowid: 2,
        why: 'its content does not match its hash',
      });
      ctx.store.db.prepare('DELETE FROM console_notes WHERE rowid = 2').run();
      assert.equal(verifyNotes(ctx.store).broken, null, 'dropping the last note leaves a valid prefix');
      await markAs('none');
      ctx.store.db.prepare('DELETE FROM console_notes WHERE rowid = 1').run();
      assert.deepEqual(verifyNotes(ctx.store).broken?.why, 'does not follow the previous note');
    } finally {
      await ctx.close();
    }
  });
});
