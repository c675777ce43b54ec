// Fleet-wide URL-mode approvals (issue 15): two intentguard instances, each with its console, on one
// real PostgreSQL. A 2026-07-28 call held on A is asked in URL mode on A's approval page; an approver
// decides it on B's console page (a browser login: cookie, CSRF token, same origin); the client's MRTR
// retry (new id, inputResponses, requestState) posted to B is served by A, the session's lease owner,
// and the call goes upstream exactly once. A replayed or altered requestState is refused on both. When
// the instance that held an approval is gone, the instance taking its session over decides the retry by
// the shared approvals table — and an approval is used once across the fleet, whichever of its states
// (each round signs a fresh one) is presented where.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { META } from '../../src/era/keys.js';
import { APPROVAL_KEY } from '../../src/mrtr/prompt.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';
import { postV2 } from '../helpers/v2-http.js';
import { fleetKit, startInstance, type FleetKit } from '../fleet/fleet-helpers.js';
import { urlPrompt, type Answer } from './fixtures/post.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const TOKEN = 'fleet-console-token-0123456789';
const script = fileURLToPath(new URL('./fixtures/fleet-instance.ts', import.meta.url));

/** One instance with its console (test/era/fixtures/fleet-instance.ts): its proxy and console URLs. */
async function startWithConsole(kit: FleetKit, store: string, upstream: string) {
  const i = await startInstance(kit, store, upstream, { script, config: { token: TOKEN } });
  assert.match(String(i.info.console), /^http:\/\/127\.0\.0\.1:\d+$/);
  return { ...i, console: String(i.info.console) };
}
type Instance = Awaited<ReturnType<typeof startWithConsole>>;

const URL_CAPS = { elicitation: { url: {} } };
const selfApproval = { [APPROVAL_KEY]: { action: 'accept', content: { approve: true } } };
let n = 0;

/** One stateless tools/call with a bearer grant, from a client declaring URL-mode elicitation. */
const call = (url: string, token: string, params: Record<string, unknown>) =>
  postV2<Answer['body']>(
    url,
    {
      id: `u${n++}`,
      method: 'tools/call',
      params: {
        ...params,
        _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: URL_CAPS },
      },
    },
    { authorization: `Bearer ${token}` },
  );

/** The URL-mode prompt of an input_required answer. */
const prompt = (r: Answer) => urlPrompt(r.body);

/**
 * An approver's browser on a console: logged in with the token (a cookie), it opens an approval's page
 * until the page offers the decision (the holder has recorded the approval and its session), then
 * `approve` posts the form with the login's CSRF token from the page's own origin.
 */
async function openPage(base: string, id: string) {
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ token: TOKEN }),
  });
  assert.equal(login.status, 303);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const path = `/approvals/${encodeURIComponent(id)}`;
  const offered = async (): Promise<string | undefined> => {
    const r = await fetch(`${base}${path}`, { headers: { cookie } });
    const html = await r.text();
    return r.status === 200 && html.includes('value="approve-once"') ? html : undefined;
  };
  let page: string | undefined;
  while ((page = await offered()) === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
  return {
    async approve(decision = 'approve-once') {
      const decided = await fetch(`${base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, decision, back: 'detail' }),
      });
      assert.equal(decided.status, 303, await decided.text());
    },
  };
}

/** Retry with `state` until the approval is taken up (each still-waiting round signs a fresh state). */
async function retryUntilDecided(url: string, token: string, params: Record<string, unknown>, state: string) {
  for (;;) {
    const r = await call(url, token, { ...params, inputResponses: selfApproval, requestState: state });
    if (r.body.result?.resultType !== 'input_required') return { answer: r, state };
    state = prompt(r).state;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const altered = (state: string) => `${state.slice(0, -3)}${state.endsWith('AAA') ? 'BBB' : 'AAA'}`;

describe('era: URL-mode approvals across a fleet (two instances, one PostgreSQL)', () => {
  let server: TempPostgres;
  let kit: FleetKit;
  let upstream: Awaited<ReturnType<typeof v2HttpServer>>;
  let store: string;
  const instances: Instance[] = [];
  let b: Instance | undefined;
  const writes = () =>
    upstream.received.filter((m) => (m.params as { name?: string } | undefined)?.name === 'write_note');
  before(async () => {
    server = await startPostgres();
    store = server.createDatabase('era_fleet_url');
    kit = await fleetKit();
    upstream = await v2HttpServer();
  });
  after(async () => {
    await Promise.allSettled(instances.map((i) => i.stop()));
    await upstream?.close();
    server?.stop();
  });
  const instance = async () => {
    const i = await startWithConsole(kit, store, upstream.url);
    instances.push(i);
    return i;
  };
  /**
   * A write_note call held on a fresh instance, recorded in the shared tables (B's console offers the
   * decision), the holder killed, then decided on B's console page (`decision`) and retried on B: the
   * retry's answer, with what is needed to go on.
   */
  const heldThenHolderDies = async (agent: string, title: string, decision?: string) => {
    b ??= await instance();
    const holder = await instance();
    const before = writes().length;
    const token = await kit.grant(agent);
    const params = { name: 'write_note', arguments: { title, body: 'b' } };
    const held = prompt(await call(holder.url, token, params));
    assert.equal(held.console, holder.console);
    const page = await openPage(b.console, held.id);
    await holder.kill();
    await page.approve(decision);
    const done = await call(b.url, token, {
      ...params,
      inputResponses: selfApproval,
      requestState: held.state,
    });
    assert.deepEqual(
      done.body.result?.content,
      [{ type: 'text', text: `saved ${title}` }],
      JSON.stringify(done.body),
    );
    return { b, before, token, params, held };
  };

  it("held on A, approved on B's console page, the retry posted to B runs once; replayed and altered states are refused on both", async () => {
    const [a, bee] = await Promise.all([instance(), instance()]);
    b = bee;
    const token = await kit.grant('agent:writer');
    const params = { name: 'write_note', arguments: { title: 'fleet', body: 'b' } };
    const held = prompt(await call(a.url, token, params));
    assert.equal(held.console, a.console, "asked on the page of A's console");
    // The agent answers its own prompt on B: served by A (the lease owner), it is only asked again.
    const again = prompt(
      await call(b.url, token, { ...params, inputResponses: selfApproval, requestState: held.state }),
    );
    assert.equal(again.id, held.id);
    assert.equal(writes().length, 0, 'nothing went upstream');

    await (await openPage(b.console, held.id)).approve();
    const { answer, state } = await retryUntilDecided(b.url, token, params, again.state);
    assert.deepEqual(
      answer.body.result?.content,
      [{ type: 'text', text: 'saved fleet' }],
      JSON.stringify(answer),
    );
    assert.equal(writes().length, 1);
    assert.ok(!('requestState' in (writes()[0]!.params as object)), 'no intentguard state upstream');
    assert.ok(!('inputResponses' in (writes()[0]!.params as object)));

    for (const at of [a, b]) {
      const replay = await call(at.url, token, {
        ...params,
        inputResponses: selfApproval,
        requestState: state,
      });
      assert.equal(replay.body.error?.data?.code, 'ERR_REQUEST_STATE_REPLAYED', JSON.stringify(replay.body));
      const bad = await call(at.url, token, { ...params, requestState: altered(state) });
      assert.equal(bad.body.error?.data?.code, 'ERR_REQUEST_STATE_INVALID', JSON.stringify(bad.body));
    }
    assert.equal(writes().length, 1);

    // A is gone; B takes the session over. The first state of that approval (A answered it "still
    // waiting", so only A ever redeemed it) is valid here — but the approval was used: not run again.
    await a.kill();
    const stale = await call(b.url, token, {
      ...params,
      inputResponses: selfApproval,
      requestState: held.state,
    });
    assert.equal(stale.body.error?.data?.code, 'ERR_REQUEST_STATE_REPLAYED', JSON.stringify(stale.body));
    assert.equal(writes().length, 1, 'one approval, one call, across the fleet');
  });

  it('the instance holding the approval dies: the one taking its session over releases the retry by the shared table, once', async () => {
    const { b, before, token, params, held } = await heldThenHolderDies('agent:survivor', 'survived');
    assert.equal(writes().length, before + 1);
    const replay = await call(b.url, token, {
      ...params,
      inputResponses: selfApproval,
      requestState: held.state,
    });
    assert.equal(replay.body.error?.data?.code, 'ERR_REQUEST_STATE_REPLAYED', JSON.stringify(replay.body));
    const bad = await call(b.url, token, { ...params, requestState: altered(held.state) });
    assert.equal(bad.body.error?.data?.code, 'ERR_REQUEST_STATE_INVALID', JSON.stringify(bad.body));
    assert.equal(writes().length, before + 1);
  });
  it('a session-scope approval decided after its holder died covers the session there too, not only the call it released', async () => {
    const { b, before, token, held } = await heldThenHolderDies(
      'agent:standing',
      'standing-1',
      'approve-session',
    );
    // The same tool again in that session, on the instance that took it over: covered, not asked again.
    const second = await call(b.url, token, {
      name: 'write_note',
      arguments: { title: 'standing-2', body: 'b' },
    });
    assert.deepEqual(
      second.body.result?.content,
      [{ type: 'text', text: 'saved standing-2' }],
      JSON.stringify(second.body),
    );
    assert.equal(writes().length, before + 2);
    // The row the dead holder left decided is sealed by the instance that used it.
    const db = new pg.Client({ connectionString: store });
    await db.connect();
    try {
      const sealed = await db.query('SELECT status, scope FROM approvals WHERE id = $1', [held.id]);
      assert.deepEqual(sealed.rows, [{ status: 'approved', scope: 'session' }]);
    } finally {
      await db.end();
    }
  });

  it('a halt holds across stateless requests on two instances (its grant revoked fleet-wide), and after its owner dies', async () => {
    b ??= await instance();
    const d = await instance();
    const token = await kit.grant('agent:halted', {
      purpose: 'echo things',
      tools: ['echo'],
      budget: { calls: 2 },
    });
    const echo = (url: string, text: string) => call(url, token, { name: 'echo', arguments: { text } });
    const echoed = (text: string) =>
      upstream.received.filter(
        (m) => (m.params as { arguments?: { text?: string } } | undefined)?.arguments?.text === text,
      );
    for (const text of ['h1', 'h2'])
      assert.equal((await echo(d.url, text)).body.result?.resultType, 'complete');
    // Past the budget, on B: served by D (the owner), which halts the session.
    const over = await echo(b.url, 'h3');
    assert.equal(over.body.error?.data?.code, 'ERR_SESSION_HALTED', JSON.stringify(over.body));
    // The halt revoked the grant fleet-wide: B refuses it at its front door once its NOTIFY has landed
    // (milliseconds: Benchmarks, "revocation propagation"); a request in that window is sent on to D,
    // which refuses it as halted. Either way it is refused, and nothing of it runs (below).
    const after = await echo(b.url, 'h4');
    assert.ok(
      ['ERR_GRANT_REVOKED', 'ERR_SESSION_HALTED'].includes(String(after.body.error?.data?.code)),
      JSON.stringify(after.body),
    );
    // D is gone: the grant stays refused on B (the revocation is in the shared table).
    await d.kill();
    const taken = await echo(b.url, 'h5');
    assert.equal(taken.body.error?.data?.code, 'ERR_GRANT_REVOKED', JSON.stringify(taken.body));
    for (const text of ['h3', 'h4', 'h5']) assert.equal(echoed(text).length, 0, `${text} never ran`);
  });
});
