/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { generateKeys } from '../../src/identity/keys.js';
import { mintGrant } from '../../src/identity/grant.js';
import { pruneSessions } from '../../src/store/audit.js';
import { TOKEN_EXCHANGE } from '../../src/console/grants.js';
import { ADMIN_TOKEN, api, consoleOn, pendingFor, proxiedClient, type Json } from './fixture.js';

// The console in a real browser: Debian's chromium driven by playwright-core. Every wait is on a page
// event or a selector, never on a deadline. CONSOLE_SCREENSHOTS=1 saves each view to docs/console/.

const chromiumPath =
  ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync) ??
  (() => {
    try {
      return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  })();
const shots = process.env.CONSOLE_SCREENSHOTS === '1' ? 'docs/console' : undefined;

const READ_INTENT = 'purpose: summarise the notes in notes.md\ntools: [list_directory, read_text_file]\n';

describe(
  'console in a browser',
  { skip: chromiumPath ? false : 'chromium is not installed (.ci/run installs it)' },
  () => {
    let browser: Browser;
    let ctx: Awaited<ReturnType<typeof consoleOn>>;
    let grantKeysFile: string;
    let grantJwks: string;
    before(async () => {
      const grantKeys = await generateKeys('ES256');
      ctx = await consoleOn({
        grants: { privateJwk: grantKeys.privateJwk, iss: 'console-test', aud: 'urn:test:mcp', ttl: '5m' },
      });
      grantKeysFile = join(ctx.dir, 'grant.jwk');
      grantJwks = join(ctx.dir, 'grant.jwks.json');
      writeFileSync(grantKeysFile, JSON.stringify(grantKeys.privateJwk));
      writeFileSync(grantJwks, JSON.stringify(grantKeys.publicJwks));
      browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
      if (shots) mkdirSync(shots, { recursive: true });
    });
    after(async () => {
      await browser?.close();
      await ctx?.close();
    });

    async function loggedIn(credential: string, path: string): Promise<Page> {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${ctx.console.url}/login`);
      await page.fill('input[name=token]', credential);
      await Promise.all([page.waitForURL('**/sessions'), page.click('button')]);
      if (path !== '/sessions') await page.goto(`${ctx.console.url}${path}`);
      await page.waitForFunction(() => document.body.dataset.live === 'connected');
      return page;
    }
    const shot = async (page: Page, name: string) => {
      if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    };

    it('the session list updates live while a real proxy carries a session', async () => {
      const page = await loggedIn(ADMIN_TOKEN, '/sessions');
      const before = await page.locator('#sessions tbody tr').count();
      const agent = await proxiedClient({ db: ctx.db, dir: ctx.dir, intent: READ_INTENT });
      try {
        await agent.client.callTool({ name: 'list_directory', arguments: { path: agent.folder } });
        // No reload: the row arrives over the event stream.
        await page.waitForFunction((n) => document.querySelectorAll('#sessions tbody tr').length > n, before);
        assert.match(await page.locator('#sessions tbody tr').first().innerText(), /summarise the notes/);
        await shot(page, 'sessions');
      } finally {
        await agent.close();
        await page.close();
      }
    });

    it('an approver approves a held call in the page and the waiting call completes', async () => {
      const agent = await proxiedClient({ db: ctx.db, dir: ctx.dir, intent: READ_INTENT });
      const page = await loggedIn(await ctx.idp.jwt('bob', { role: 'approver' }), '/approvals');
      try {
        const call = agent.client.callTool({
          name: 'write_file',
          arguments: { path: join(agent.folder, 'summary.md'), content: 'notes: meeting at 10' },
        });
        await page.waitForSelector('li.approval:has(code.tool:text-is("write_file"))');
        await shot(page, 'approvals');
        await page.click('li.approval:has(code.tool:text-is("write_file")) button[value="approve-once"]');
        const result = (await call) as { content: { text: string }[]; isError?: boolean };
        assert.notEqual(result.isError, true, JSON.stringify(result));
        const pending = (await (
          await api(ctx.console, '/api/approvals?state=pending', { bearer: ADMIN_TOKEN })
        ).json()) as Json;
        assert.equal(pending.approvals.filter((p: Json) => p.tool === 'write_file').length, 0);
        const approver = ctx.store.db
          .prepare(
            "SELECT approver, status FROM approvals WHERE tool = 'write_file' ORDER BY rowid DESC LIMIT 1",
          )
          .get() as { approver: string; status: string };
        assert.deepEqual(approver, { approver: 'console:bob', status: 'approved' });
      } finally {
        await agent.close();
        await page.close();
      }
    });

    it("an approver widens the intent from the approval's own page: a new intent version, the next call is not held", async () => {
      const agent = await proxiedClient({ db: ctx.db, dir: ctx.dir, intent: READ_INTENT });
      const bob = await ctx.idp.jwt('bob', { role: 'approver' });
      try {
        const call = agent.client.callTool({
          name: 'write_file',
          arguments: { path: join(agent.folder, 'widened.md'), content: 'first' },
        });
        const id = ((await pendingFor(ctx.console, 'write_file')) as { id: string }).id;
        // The link a webhook or a URL-mode elicitation carries: the approval's own page.
        const page = await loggedIn(bob, `/approvals/${encodeURIComponent(id)}`);
        try {
          await page.waitForSelector('li.approval[data-status="pending"] .countdown');
          assert.match(await page.locator('li.approval').innerText(), /not among the approved tools/);
          await shot(page, 'approval');
          await Promise.all([
            page.waitForURL(`**/approvals/${encodeURIComponent(id)}`),
            page.click('button[value="approve-intent"]'),
          ]);
          const result = (await call) as { isError?: boolean };
          assert.notEqual(result.isError, true, JSON.stringify(result));
          await page.waitForSelector('li.approval[data-status="approved"]');
          assert.match(
            await page.locator('li.approval .decided').innerText(),
            /approved by console:bob \(scope intent\)/,
          );
        } finally {
          await page.close();
        }
        // The widened intent holds for the rest of the session: the next write is not held.
        const second = (await agent.client.callTool({
          name: 'write_file',
          arguments: { path: join(agent.folder, 'widened.md'), content: 'second' },
        })) as { isError?: boolean };
        assert.notEqual(second.isError, true, JSON.stringify(second));
        const session = (await (
          await api(ctx.console, '/api/approvals/' + encodeURIComponent(id), { bearer: ADMIN_TOKEN })
        ).json()) as Json;
        assert.deepEqual(
          { status: session.status, approver: session.approver, scope: session.scope },
          { status: 'approved', approver: 'console:bob', scope: 'intent' },
        );
        const held = ctx.store.db
          .prepare("SELECT count(*) AS n FROM approvals WHERE session_id = ? AND tool = 'write_file'")
          .get(session.session) as { n: number };
        assert.equal(held.n, 1);
        await agent.close();
        const s = (await (
          await api(ctx.console, `/api/sessions/${encodeURIComponent(session.session)}`, {
            bearer: ADMIN_TOKEN,
          })
        ).json()) as Json;
        const writes = s.entries.filter((e: Json) => e.kind === 'request' && e.tool === 'write_file');
        assert.deepEqual(
          writes.map((e: Json) => [e.action, e.intentVersion]),
          [
            ['reauthorize', 1],
            ['allow', 2],
          ],
        );
        const control = s.entries.find((e: Json) => e.kind === 'control');
        assert.deepEqual(control.control, { version: 2, by: 'console:bob', added: ['write_file'] });
        const list = (await (
          await api(ctx.console, '/api/sessions?limit=50', { bearer: ADMIN_TOKEN })
        ).json()) as Json;
        assert.equal(list.sessions.find((x: Json) => x.id === session.session).intentVersion, 2);
      } finally {
        await agent.close();
      }
    });

    it('clicking an argument value opens the earlier result it came from', async () => {
      const agent = await proxiedClient({ db: ctx.db, dir: ctx.dir, intent: READ_INTENT });
      try {
        // A file that names another: the second read's path argument comes from the first read's result.
        const notes = join(agent.folder, 'notes.md');
        writeFileSync(join(agent.folder, 'index.md'), `see ${notes} for the minutes\n`);
        await agent.client.callTool({
          name: 'read_text_file',
          arguments: { path: join(agent.folder, 'index.md') },
        });
        await agent.client.callTool({ name: 'read_text_file', arguments: { path: notes } });
      } finally {
        await agent.close();
      }
      const list = (await (
        await api(ctx.console, '/api/sessions?limit=1', { bearer: ADMIN_TOKEN })
      ).json()) as Json;
      const page = await loggedIn(ADMIN_TOKEN, `/sessions/${encodeURIComponent(list.sessions[0].id)}`);
      try {
        const link = page.locator('#timeline a.prov');
        await link.waitFor();
        assert.equal(await link.innerText(), join(agent.folder, 'notes.md'));
        const target = (await link.getAttribute('href'))!.slice(1);
        const row = page.locator(`tr[id="${target}"]`);
        assert.equal(await row.locator('details').getAttribute('open'), null, 'closed before the click');
        await link.click();
        await page.waitForSelector(`tr[id="${target}"].shown details[open]`);
        assert.match(await row.locator('details pre').innerText(), /see .*notes\.md for the minutes/);
        await shot(page, 'provenance');
      } finally {
        await page.close();
      }
    });

    it('an approver halts a session and revokes its grant from the page; its next call fails', async () => {
      const keys = await generateKeys('ES256');
      const jwks = join(ctx.dir, 'halt.jwks.json');
      writeFileSync(jwks, JSON.stringify(keys.publicJwks));
      const grant = await mintGrant({
        privateJwk: keys.privateJwk,
        iss: 'halt-test',
        aud: 'urn:test:halt',
        sub: 'agent:runaway',
        ttl: '10m',
        intent: { purpose: 'list the notes folder', tools: ['list_directory'] },
      });
      const agent = await proxiedClient({
        db: ctx.db,
        dir: ctx.dir,
        intent: READ_INTENT,
        grant,
        extra: ['--jwks', jwks, '--issuer', 'halt-test', '--audience', 'urn:test:halt'],
      });
      const page = await loggedIn(await ctx.idp.jwt('bob', { role: 'approver' }), '/sessions');
      try {
        await agent.client.callTool({ name: 'list_directory', arguments: { path: agent.folder } });
        const row = page.locator('#sessions tbody tr', {
          has: page.locator('td.sub', { hasText: 'agent:runaway' }),
        });
        await row.locator('button.danger').waitFor();
        await Promise.all([page.waitForURL('**/sessions'), row.locator('button.danger').click()]);
        await page.waitForSelector(
          '#sessions tbody tr:has(td.sub:text-is("agent:runaway")) td.state:text-is("revoked")',
        );
        assert.equal(await row.locator('button.danger').count(), 0);
        // The proxy's grant guard sees the revocation at the next request: the session is halted.
        await assert.rejects(async () => {
          const r = (await agent.client.callTool({
            name: 'list_directory',
            arguments: { path: agent.folder },
          })) as {
            isError?: boolean;
            content?: { text?: string }[];
          };
          if (r.isError) throw new Error(r.content?.[0]?.text ?? 'refused');
        }, /revoked/);
        const reasons = ctx.store.db
          .prepare('SELECT reason FROM revocations WHERE jti = ? ORDER BY rowid')
          .pluck()
          .all(decodeJwt(grant).jti);
        assert.equal(reasons[0], 'revoked from the console by bob');
        await shot(page, 'sessions-revoked');
      } finally {
        await agent.close();
        await page.close();
      }
    });

    it('a viewer cannot approve, in the page or through its API', async () => {
      const agent = await proxiedClient({ db: ctx.db, dir: ctx.dir, intent: READ_INTENT });
      const viewerJwt = await ctx.idp.jwt('victor', { role: 'viewer' });
      const page = await loggedIn(viewerJwt, '/approvals');
      try {
        const call = agent.client.callTool({
          name: 'write_file',
          arguments: { path: join(agent.folder, 'viewer.md'), content: 'x' },
        });
        await page.waitForSelector('li.approval:has(code.tool:text-is("write_file")) .note');
        assert.equal(await page.locator('form.decide').count(), 0);
        const id = await page.locator('li.approval').first().getAttribute('data-approval');
        // Even a hand-made request with the page's own CSRF token is refused for this role.
        const status = await page.evaluate(async (approvalId) => {
          const csrf = (document.querySelector('input[name=csrf]') as HTMLInputElement).value;
          const r = await fetch(`/approvals/${approvalId}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ csrf, decision: 'approve-once' }),
          });
          return r.status;
        }, id);
        assert.equal(status, 403);
        const r = await api(ctx.console, `/api/approvals/${id}`, {
          method: 'POST',
          bearer: viewerJwt,
          body: { decision: 'approve' },
        });
        assert.equal(r.status, 403);
        await api(ctx.console, `/api/approvals/${id}`, {
          method: 'POST',
          bearer: ADMIN_TOKEN,
          body: { decision: 'deny' },
        });
        await assert.rejects(call);
      } finally {
        await agent.close();
        await page.close();
      }
    });

    it('an injected <script> in a tool name and its arguments stays text', async () => {
      const agent = await proxiedClient({ db: ctx.db, dir: ctx.dir, intent: READ_INTENT });
      const page = await loggedIn(ADMIN_TOKEN, '/approvals');
      const hostile = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
      try {
        const call = agent.client.callTool({
          name: hostile,
          arguments: { path: 'javascript:window.__pwned=3', note: '"onload="window.__pwned=4' },
        });
        const card = page.locator('li.approval', { has: page.locator('code.tool', { hasText: '<script>' }) });
        await card.waitFor();
        assert.equal(await card.locator('code.tool').innerText(), hostile);
        assert.equal(await page.locator('main script, main img').count(), 0);
        const id = await card.getAttribute('data-approval');
        await api(ctx.console, `/api/approvals/${id}`, {
          method: 'POST',
          bearer: ADMIN_TOKEN,
          body: { decision: 'deny' },
        });
        await assert.rejects(call);
        const sessions = (await (
          await api(ctx.console, '/api/sessions?limit=1', { bearer: ADMIN_TOKEN })
        ).json()) as Json;
        await page.goto(`${ctx.console.url}/sessions/${encodeURIComponent(sessions.sessions[0].id)}`);
        await page.waitForSelector('#timeline code.tool');
        assert.ok(
          (await page.locator('#timeline').innerText()).includes('<script>window.__pwned=1</script>'),
        );
        assert.equal(await page.locator('main script, main img').count(), 0);
        assert.equal(
          await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned),
          undefined,
        );
        await shot(page, 'timeline');
        // The alerts feed (reasons name the tool), the approval's own page and the session list: text too.
        for (const path of ['/alerts', `/approvals/${encodeURIComponent(id!)}`, '/sessions']) {
          await page.goto(`${ctx.console.url}${path}`);
          await page.waitForSelector('main h1');
          if (path !== '/sessions')
            assert.ok(
              (await page.locator('main').innerText()).includes('<script>window.__pwned=1</script>'),
              `${path}: ${(await page.locator('main').innerText()).slice(0, 1500)}`,
            );
          assert.equal(await page.locator('main script, main img').count(), 0, path);
          assert.equal(
            await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned),
            undefined,
            path,
          );
        }
      } finally {
        await agent.close();
        await page.close();
      }
    });

    it('a grant request waits, is approved in the page, and the minted grant opens a session', async () => {
      const intent = {
        purpose: 'write the weekly summary',
        tools: ['list_directory', 'read_text_file', 'write_file'],
        budget: { calls: 10 },
      };
      const subjectToken = await ctx.idp.jwt('agent:writer');
      const token = (extra: Record<string, string>) =>
        fetch(`${ctx.console.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, ...extra }),
        });
      const first = (await (await token({ intent: JSON.stringify(intent) })).json()) as Json;
      assert.equal(first.error, 'authorization_pending', JSON.stringify(first));
      assert.match(first.error_description, /write_file/);
      // The requester cannot approve their own request.
      const self = await ctx.idp.jwt('agent:writer', { role: 'approver' });
      const page = await loggedIn(await ctx.idp.jwt('bob', { role: 'approver' }), '/grants');
      try {
        await page.waitForSelector(`li.grant[data-grant="${first.request_id}"] button[value="approve"]`);
        await shot(page, 'grants');
        // Decided on the request's own page (what a notification links to).
        await page.click(`li.grant[data-grant="${first.request_id}"] h2 a`);
        await page.waitForURL(`**/grants/${first.request_id}`);
        assert.equal(await page.locator('li.grant').count(), 1);
        const selfPage = await loggedIn(self, '/grants');
        assert.equal(await selfPage.locator(`li.grant[data-grant="${first.request_id}"] button`).count(), 0);
        await selfPage.close();
        await Promise.all([
          page.waitForURL(`**/grants/${first.request_id}`),
          page.click(`li.grant[data-grant="${first.request_id}"] button[value="approve"]`),
        ]);
        await page.waitForSelector(`li.grant[data-grant="${first.request_id}"] .status:text-is("granted")`);
        const granted = (await (await token({ request_id: first.request_id })).json()) as Json;
        assert.equal(granted.token_type, 'Bearer', JSON.stringify(granted));
        const agent = await proxiedClient({
          db: ctx.db,
          dir: ctx.dir,
          intent: READ_INTENT,
          grant: granted.access_token,
          extra: ['--jwks', grantJwks, '--issuer', 'console-test', '--audience', 'urn:test:mcp'],
        });
        try {
          const r = (await agent.client.callTool({
            name: 'write_file',
            arguments: { path: join(agent.folder, 'weekly.md'), content: 'done' },
          })) as {
            isError?: boolean;
          };
          assert.notEqual(r.isError, true);
        } finally {
          await agent.close();
        }
        const s = (await (
          await api(ctx.console, '/api/sessions?limit=1', { bearer: ADMIN_TOKEN })
        ).json()) as Json;
        assert.equal(s.sessions[0].sub, 'agent:writer');
        assert.equal(s.sessions[0].purpose, 'write the weekly summary');
        const rec = ctx.store.db
          .prepare('SELECT status, approver, scope FROM approvals WHERE id = ?')
          .get(first.request_id);
        assert.deepEqual(rec, { status: 'approved', approver: 'console:bob', scope: 'grant' });
      } finally {
        await page.close();
      }
    });

    it('an approver acknowledges an alert, jumps to its event, marks the session, and the rules view counts the mark', async () => {
      const page = await loggedIn(await ctx.idp.jwt('bob', { role: 'approver' }), '/alerts?state=open');
      try {
        const row = page.locator('#alerts tbody tr').first();
        await row.waitFor();
        const alertId = (await row.getAttribute('data-alert'))!;
        const rule = await row.locator('td:nth-child(3) code').innerText();
        // A viewer cannot acknowledge through the API either.
        const viewer = await ctx.idp.jwt('victor', { role: 'viewer' });
        const refused = await api(ctx.console, `/api/alerts/${encodeURIComponent(alertId)}/ack`, {
          method: 'POST',
          bearer: viewer,
          body: {},
        });
        assert.equal(refused.status, 403);
        await Promise.all([
          page.waitForURL('**/alerts?state=open'),
          row.locator('button:text-is("Acknowledge")').click(),
        ]);
        // Acknowledged alerts leave the open feed, and are listed, with who, under acknowledged.
        await page.waitForFunction(
          (id) => !document.querySelector(`#alerts tr[data-alert="${id}"]`),
          alertId,
        );
        await page.goto(`${ctx.console.url}/alerts?state=acknowledged`);
        const acked = page.locator(`#alerts tr[data-alert="${alertId}"]`);
        assert.match(await acked.locator('td.ack').innerText(), /^by bob/);
        await shot(page, 'alerts-acknowledged');
        const again = (await (
          await api(ctx.console, `/api/alerts/${encodeURIComponent(alertId)}/ack`, {
            method: 'POST',
            bearer: ADMIN_TOKEN,
            body: {},
          })
        ).json()) as Json;
        assert.equal(again.acknowledged.by, 'bob', 'acknowledging again keeps the first');
        // Jump to the event the alert was raised on.
        const jump = acked.locator('a.jump');
        const target = (await jump.getAttribute('href'))!.split('#')[1]!;
        await Promise.all([page.waitForURL(`**#${target}`), jump.click()]);
        await page.waitForSelector(`tr[id="${target}"].shown`);
        // Mark the session as an attack: shown on the page, and counted for the rule.
        await Promise.all([page.waitForLoadState('load'), page.click('form.mark button[value="attack"]')]);
        await page.waitForSelector('#mark strong.mark:text-is("attack")');
        assert.match(await page.locator('#mark').innerText(), /Marked attack by bob/);
        await page.goto(`${ctx.console.url}/rules?period=24h`);
        const hits = page.locator(`#rule-hits tr[data-rule="${rule}"]`);
        assert.ok(Number(await hits.locator('td.attack').innerText()) >= 1);
        await shot(page, 'rules');
      } finally {
        await page.close();
      }
    });

    it('an admin pastes a candidate rule and sees the replay diff of every recorded decision it changes', async () => {
      const candidate = [
        'id: SITE-CONSOLE-001',
        'title: No directory listings',
        'description: A candidate that refuses every directory listing.',
        'severity: medium',
        'status: stable',
        'match:',
        '  on: tool_call',
        `  when: "call.tool == 'list_directory'"`,
        'action: deny',
        'message: "the candidate refuses {{call.tool}}"',
        '',
      ].join('\n');
      const approver = await ctx.idp.jwt('bob', { role: 'approver' });
      const refused = await api(ctx.console, '/api/rules/diff', {
        method: 'POST',
        bearer: approver,
        body: { rules: candidate },
      });
      assert.equal(refused.status, 403, 'trying rules is an admin action');
      const page = await loggedIn(ADMIN_TOKEN, '/rules?period=24h');
      try {
        // A candidate that does not load is refused with its rule error, before any replay.
        await page.fill('form.candidate textarea[name=rules]', 'id: BROKEN\n');
        await Promise.all([page.waitForURL('**/rules/diff'), page.click('form.candidate button')]);
        assert.match(await page.locator('main').innerText(), /ERR_RULE_SCHEMA/);
        await page.goto(`${ctx.console.url}/rules?period=24h`);
        await page.fill('form.candidate textarea[name=rules]', candidate);
        await Promise.all([page.waitForURL('**/rules/diff'), page.click('form.candidate button')]);
        await page.waitForSelector('#diff tbody tr');
        // Every recorded list_directory call (the earlier tests made some) would now be denied by it.
        const listed = ctx.store.db
          .prepare("SELECT count(*) FROM events WHERE kind = 'request' AND tool = 'list_directory'")
          .pluck()
          .get() as number;
        const rows = (await page.locator('#diff tbody tr').allInnerTexts()).filter((r) =>
          r.includes('SITE-CONSOLE-001'),
        );
        assert.equal(rows.length, listed);
        // (The halted session's last listing was recorded as halt: it too reads deny now.)
        for (const r of rows) assert.match(r, /list_directory\s+(allow|halt)\s+deny\s+SITE-CONSOLE-001/);
        assert.ok(rows.some((r) => /\ballow\s+deny\b/.test(r)));
        assert.match(await page.locator('#diff-summary').innerText(), /decisions would change/);
        await shot(page, 'rules-diff');
        const json = (await (
          await api(ctx.console, '/api/rules/diff', {
            method: 'POST',
            bearer: ADMIN_TOKEN,
            body: { rules: candidate },
          })
        ).json()) as Json;
        assert.equal(json.rows.filter((r: Json) => r.rules.includes('SITE-CONSOLE-001')).length, listed);
      } finally {
        await page.close();
      }
    });

    it('the alerts, rules and audit views render for a viewer', async () => {
      const page = await loggedIn(await ctx.idp.jwt('victor', { role: 'viewer' }), '/alerts');
      try {
        await page.waitForSelector('#alerts tbody tr');
        assert.equal(await page.locator('#alerts button').count(), 0, 'a viewer cannot acknowledge');
        await shot(page, 'alerts');
        await page.goto(`${ctx.console.url}/rules?period=24h`);
        await page.waitForSelector('#rule-hits tbody tr');
        // Prune the oldest session: the audit view lists the prune anchor, and the record still verifies.
        const oldest = ctx.store.db
          .prepare('SELECT started_at FROM sessions WHERE ended_at IS NOT NULL ORDER BY rowid LIMIT 1')
          .pluck()
          .get() as number;
        assert.equal(pruneSessions(ctx.store, oldest + 1, Date.now()), 1);
        await page.goto(`${ctx.console.url}/audit`);
        await page.waitForSelector('#audit-status');
        assert.match(await page.locator('#audit-status').innerText(), /verify/);
        assert.equal(await page.locator('#anchors td.kind').first().innerText(), 'prune');
        assert.match(await page.locator('#anchors').innerText(), /"sessions":1/);
        assert.match(await page.locator('#notes-status').innerText(), /notes .* verify/);
        assert.equal(await page.locator('a[href="/audit/export"]').count(), 0);
        await shot(page, 'audit');
        void grantKeysFile;
      } finally {
        await page.close();
      }
    });
  },
);
