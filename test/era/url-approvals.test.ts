// URL-mode approvals wired to the console (issue 15): with a console configured, a held 2026-07-28
// tools/call through `intentguard http` is answered input_required with a URL-mode elicitation/create
// pointing at the console's page for that approval; an approver decides there (the console's HTTP API);
// the client's retry with the signed requestState is then released, or refused. The agent's own client,
// answering the elicitation itself, approves nothing. Real SDK v2 Client and McpServer, real console.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { APPROVAL_KEY } from '../../src/mrtr/prompt.js';
import { post as rawPost, urlPrompt } from './fixtures/post.js';
import { httpStack, intentDir } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const TOKEN = 'console-token-0123456789';
const { dir, remove } = intentDir('ig-era-url-', 'purpose: echo things\ntools: [echo]\n');
after(remove);

async function stack() {
  const upstream = await v2HttpServer();
  return {
    upstream,
    ...(await httpStack(upstream, dir, { console: { port: 0, token: TOKEN }, approvals: { timeout: '5m' } })),
  };
}

/** One tools/call from a client declaring `caps`; its JSON-RPC answer. */
const call = async (url: string, params: Record<string, unknown>, caps: Record<string, unknown>) =>
  (await rawPost(url, 'tools/call', params, {}, caps)).body;

/** The console's JSON API, as an approver's script uses it (Bearer token). */
async function api(base: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The URL-mode prompt of an input_required result: its page, and the approval id and console it names. */
const prompt = urlPrompt;

/**
 * Wait until the console shows the approval as `status`: `pending` once the proxy's recorder has
 * written its session (the console joins them), `approved` / `denied` once the proxy took the decision up.
 */
async function until(base: string, id: string, status: string) {
  for (;;) {
    const r = await api(base, `/api/approvals/${encodeURIComponent(id)}`);
    if ((r.body as { status?: string }).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Wait until the proxy has taken the decision up: its row sealed `approved` / `denied` (the console shows
 * an approver's `cli-approved` as approved already; the proxy's database channel reads it a moment later).
 */
async function takenUp(s: Awaited<ReturnType<typeof stack>>, id: string, status: string) {
  const read = s.runtime.store!.db.prepare<[string], { status: string }>(
    'SELECT status FROM approvals WHERE id = ?',
  );
  while (read.get(id)?.status !== status) await new Promise((resolve) => setTimeout(resolve, 50));
}

const calls = (s: Awaited<ReturnType<typeof stack>>) =>
  s.upstream.received.filter((m) => (m.params as { name?: string }).name === 'write_note');

const URL_CAPS = { elicitation: { url: {} } };
const selfApproval = { [APPROVAL_KEY]: { action: 'accept', content: { approve: true } } };

describe('era: URL-mode approvals on the console', () => {
  it("the page's approver releases the retry; the client's own accept does not; a replay is refused", async () => {
    const s = await stack();
    try {
      const args = { title: 't', body: 'b' };
      const held = prompt(await call(s.url, { name: 'write_note', arguments: args }, URL_CAPS));
      await until(held.console, held.id, 'pending');
      const pending = await api(held.console, `/api/approvals/${encodeURIComponent(held.id)}`);
      assert.equal((pending.body as { tool?: string }).tool, 'write_note');

      // The agent answers its own prompt "approve": it is only asked again (same approval, fresh state).
      const retry = { name: 'write_note', arguments: args, inputResponses: selfApproval };
      const again = prompt(await call(s.url, { ...retry, requestState: held.state }, URL_CAPS));
      assert.equal(again.id, held.id);
      assert.notEqual(again.state, held.state);
      assert.equal(calls(s).length, 0, 'nothing went upstream');

      const decided = await api(held.console, `/api/approvals/${encodeURIComponent(held.id)}`, {
        decision: 'approve',
        scope: 'once',
      });
      assert.equal(decided.status, 200, JSON.stringify(decided.body));
      await takenUp(s, held.id, 'approved');
      const done = await call(s.url, { ...retry, requestState: again.state }, URL_CAPS);
      assert.deepEqual(done.result?.content, [{ type: 'text', text: 'saved t' }], JSON.stringify(done));
      assert.equal(calls(s).length, 1);
      assert.ok(!('requestState' in (calls(s)[0]!.params as object)), 'no intentguard state upstream');
      assert.ok(!('inputResponses' in (calls(s)[0]!.params as object)));

      const replay = await call(s.url, { ...retry, requestState: again.state }, URL_CAPS);
      assert.equal(replay.error?.data?.code, 'ERR_REQUEST_STATE_REPLAYED');
      // The first state was redeemed when it was answered "still waiting".
      const old = await call(s.url, { ...retry, requestState: held.state }, URL_CAPS);
      assert.equal(old.error?.data?.code, 'ERR_REQUEST_STATE_REPLAYED');
      assert.equal(calls(s).length, 1);
    } finally {
      await s.close();
    }
  });

  it('denied on the page ends the round; a client without URL-mode elicitation is never asked in form mode', async () => {
    const s = await stack();
    try {
      const args = { title: 'no', body: 'b' };
      const held = prompt(await call(s.url, { name: 'write_note', arguments: args }, URL_CAPS));
      await until(held.console, held.id, 'pending');
      const denied = await api(held.console, `/api/approvals/${encodeURIComponent(held.id)}`, {
        decision: 'deny',
      });
      assert.equal(denied.status, 200, JSON.stringify(denied.body));
      await takenUp(s, held.id, 'denied');
      const r = await call(
        s.url,
        { name: 'write_note', arguments: args, inputResponses: selfApproval, requestState: held.state },
        URL_CAPS,
      );
      assert.equal(r.error?.data?.code, 'ERR_REAUTH_REQUIRED', JSON.stringify(r));
      const formOnly = await call(s.url, { name: 'write_note', arguments: args }, { elicitation: {} });
      assert.equal(formOnly.error?.code, -32021, JSON.stringify(formOnly));
      assert.equal(calls(s).length, 0);
    } finally {
      await s.close();
    }
  });

  it('approved on the page for the session: a later call it covers goes through without asking', async () => {
    const s = await stack();
    try {
      const held = prompt(
        await call(s.url, { name: 'write_note', arguments: { title: 'a', body: 'b' } }, URL_CAPS),
      );
      await until(held.console, held.id, 'pending');
      const r = await api(held.console, `/api/approvals/${encodeURIComponent(held.id)}`, {
        decision: 'approve',
        scope: 'session',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await takenUp(s, held.id, 'approved');
      const retry = { name: 'write_note', arguments: { title: 'a', body: 'b' }, requestState: held.state };
      assert.deepEqual((await call(s.url, retry, URL_CAPS)).result?.content, [
        { type: 'text', text: 'saved a' },
      ]);
      const later = await call(s.url, { name: 'write_note', arguments: { title: 'c', body: 'd' } }, URL_CAPS);
      assert.deepEqual(later.result?.content, [{ type: 'text', text: 'saved c' }], JSON.stringify(later));
      assert.equal(calls(s).length, 2);
    } finally {
      await s.close();
    }
  });

  it('a v2 Client: the user approves on the page the URL names, and the call completes', async () => {
    const s = await stack();
    try {
      const opened: string[] = [];
      const client = new Client(
        { name: 'v2-agent', version: '2' },
        {
          capabilities: { elicitation: { url: {} } },
          versionNegotiation: { mode: { pin: '2026-07-28' } },
        },
      );
      // The client shows the URL; its user opens the page and approves there (the console's API).
      client.setRequestHandler('elicitation/create', async (req) => {
        const params = req.params as { mode?: string; url?: string };
        assert.equal(params.mode, 'url');
        const page = new URL(params.url!);
        opened.push(page.pathname);
        const id = decodeURIComponent(page.pathname.split('/').pop()!);
        await until(page.origin, id, 'pending');
        const r = await api(page.origin, `/api/approvals/${encodeURIComponent(id)}`, {
          decision: 'approve',
          scope: 'once',
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        await takenUp(s, id, 'approved');
        return { action: 'accept' };
      });
      await client.connect(new StreamableHTTPClientTransport(new URL(s.url)));
      const r = await client.callTool({ name: 'write_note', arguments: { title: 'v2', body: 'x' } });
      assert.deepEqual(r.content, [{ type: 'text', text: 'saved v2' }]);
      assert.equal(opened.length, 1);
      assert.equal(calls(s).length, 1);

      // An agent whose client approves its own prompts gets nowhere: asked again, round after round.
      const agent = new Client(
        { name: 'v2-agent', version: '2' },
        {
          capabilities: { elicitation: { url: {} } },
          versionNegotiation: { mode: { pin: '2026-07-28' } },
          inputRequired: { maxRounds: 3 },
        },
      );
      agent.setRequestHandler('elicitation/create', async () => ({ action: 'accept' }));
      await agent.connect(new StreamableHTTPClientTransport(new URL(s.url)));
      await assert.rejects(
        agent.callTool({ name: 'write_note', arguments: { title: 'self', body: 'x' } }),
        (e: { code?: string }) => e.code === 'INPUT_REQUIRED_ROUNDS_EXCEEDED',
      );
      assert.equal(calls(s).length, 1, 'the self-approved call never went upstream');
      await client.close();
      await agent.close();
    } finally {
      await s.close();
    }
  });
});
