// The console on a fleet's PostgreSQL (`intentguard console --store postgres://…`), against a real
// server: sessions, timeline, approvals, alerts and audit of two instances recording at once.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApprovals } from '../../src/approvals/approvals.js';
import { openConsole } from '../../src/cli/console-command.js';
import type { ConsoleServer } from '../../src/console/server.js';
import { pgApprovalChannel, pgApprovalLedger, type FleetApprovalChannel } from '../../src/fleet/approvals.js';
import { createMonitor, loadRulePack, packPolicies, type Monitor } from '../../src/index.js';
import { openBackend, type StoreBackend } from '../../src/store/backend.js';
import type { Recorder } from '../../src/store/recorder.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';
import { driveSession, tappedClient } from '../helpers/session.js';
import { TOKEN_EXCHANGE } from '../../src/console/grants.js';
import { verifyGrant } from '../../src/identity/grant.js';
import { generateKeys, resolveKeys } from '../../src/identity/keys.js';
import { ADMIN_TOKEN, api, createIdp, type Json } from './fixture.js';
import { writeFileSync } from 'node:fs';

/** One fleet instance: its own connection to the shared store, a monitor with the pack, a recorder. */
interface Instance {
  backend: StoreBackend;
  monitor: Monitor;
  recorder: Recorder;
  channel: FleetApprovalChannel;
  /** While true, every held call is denied as soon as it is held (nobody is asked to decide it). */
  denyHeld: { on: boolean };
}

async function instance(url: string, keyFile: string): Promise<Instance> {
  const backend = await openBackend(url, { keyFile });
  const channel = await pgApprovalChannel(backend.postgres!, 50);
  let monitor!: Monitor;
  const denyHeld = { on: false };
  const approvals = createApprovals(() => monitor, {
    channels: [channel.channel],
    ledger: pgApprovalLedger(backend.postgres!),
    timeoutMs: 60_000,
    onPending: (p) => {
      if (denyHeld.on) queueMicrotask(() => approvals.decide(p.id, { approved: false, approver: 'test' }));
    },
  });
  monitor = createMonitor({
    policy: packPolicies(loadRulePack()),
    approver: approvals.approver,
    approvalTimeoutMs: 60_000,
  });
  return { backend, monitor, recorder: backend.record(monitor, { flushDelayMs: 1 }), channel, denyHeld };
}

/** Poll an asynchronous condition until it holds (fails after 30 s: a condition, not a timing assertion). */
async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const get = async (c: ConsoleServer, path: string): Promise<Json> => {
  const r = await api(c, path, { bearer: ADMIN_TOKEN });
  assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
  return r.json();
};
const post = async (c: ConsoleServer, path: string, body: unknown): Promise<Json> => {
  const r = await api(c, path, { method: 'POST', bearer: ADMIN_TOKEN, body });
  assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
  return r.json();
};

describe('console on PostgreSQL (the whole fleet)', () => {
  let server: TempPostgres;
  let url: string;
  let instances: Instance[];
  let c: ConsoleServer;
  const saved = process.env.INTENTGUARD_AUDIT_KEY;
  before(async () => {
    server = await startPostgres();
    url = server.createDatabase('console_fleet');
    const keyFile = join(mkdtempSync(join(tmpdir(), 'ig-console-pg-')), 'audit.key');
    instances = [await instance(url, keyFile), await instance(url, keyFile)];
    process.env.INTENTGUARD_AUDIT_KEY = keyFile;
    c = await openConsole({ listen: '127.0.0.1:0', db: url, token: ADMIN_TOKEN });
  });
  after(async () => {
    await c?.close();
    for (const i of instances ?? []) {
      await i.recorder.close();
      await i.channel.close();
      i.monitor.close();
      await i.backend.close();
    }
    server?.stop();
    if (saved === undefined) delete process.env.INTENTGUARD_AUDIT_KEY;
    else process.env.INTENTGUARD_AUDIT_KEY = saved;
  });

  it('lists the sessions of both instances, serves a timeline, alerts, marks and acknowledgements, and verifies the audit', async () => {
    // The drifting calls are held (reauthorize) and denied at once: only their record matters here.
    for (const i of instances) i.denyHeld.on = true;
    const ids = [
      await driveSession(instances[0]!.monitor, { sub: 'agent:east' }),
      await driveSession(instances[1]!.monitor, { sub: 'agent:west' }),
      await driveSession(instances[1]!.monitor, { sub: 'agent:west', drift: false }),
    ];
    for (const i of instances) i.denyHeld.on = false;
    await Promise.all(instances.map((i) => i.recorder.flush()));
    const all = await get(c, '/api/sessions');
    assert.deepEqual(new Set(all.sessions.map((s: Json) => s.id)), new Set(ids));
    assert.deepEqual(new Set(all.sessions.map((s: Json) => s.sub)), new Set(['agent:east', 'agent:west']));
    // Keyset pagination, as on SQLite.
    const one = await get(c, '/api/sessions?limit=1');
    assert.equal(one.sessions.length, 1);
    const two = await get(c, `/api/sessions?limit=5&before=${one.next}`);
    assert.equal(two.sessions.length, 2);
    assert.equal(two.next, null);

    const t = await get(c, `/api/sessions/${ids[0]}`);
    assert.equal(t.session.id, ids[0]);
    const held = t.entries.find((e: Json) => e.tool === 'send_email' && e.kind === 'request');
    assert.equal(held.action, 'reauthorize');

    const alerts = await get(c, '/api/alerts');
    assert.deepEqual(new Set(alerts.alerts.map((a: Json) => a.sub)), new Set(['agent:east', 'agent:west']));
    const west = await get(c, '/api/alerts?agent=agent:west');
    assert.ok(west.alerts.length >= 1 && west.alerts.every((a: Json) => a.sub === 'agent:west'));
    const ack = await post(c, `/api/alerts/${west.alerts[0].id}/ack`, {});
    assert.equal(ack.acknowledged.by, 'console:admin-token');
    const open = await get(c, '/api/alerts?state=open');
    assert.ok(!open.alerts.some((a: Json) => a.id === west.alerts[0].id));
    assert.equal((await get(c, '/api/alerts?state=acknowledged')).alerts.length, 1);

    await post(c, `/api/sessions/${ids[1]}/mark`, { mark: 'attack' });
    const marked = await get(c, '/api/sessions');
    assert.equal(marked.sessions.find((s: Json) => s.id === ids[1]).mark, 'attack');

    // The audit page: every chain of both instances, and the console's notes, verify.
    const login = await fetch(`${c.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: ADMIN_TOKEN }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const audit = await (await fetch(`${c.url}/audit`, { headers: { cookie } })).text();
    assert.match(audit, /id="audit-status" class="good"/);
    assert.match(audit, /2 notes/);
    const rules = await (await fetch(`${c.url}/rules`, { headers: { cookie } })).text();
    assert.match(rules, /IG-INT-001/);
    const exported = await api(c, `/audit/export?session=${ids[2]}`, { bearer: ADMIN_TOKEN });
    assert.equal(JSON.parse((await exported.text()).trim()).id, ids[2]);
  });

  it('a grant request waits in the shared store: pending again after a console restart, approved, minted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-console-pg-grants-'));
    const idp = await createIdp(dir);
    const keys = await generateKeys('ES256');
    const grantKey = join(dir, 'grant.jwk');
    writeFileSync(grantKey, JSON.stringify(keys.privateJwk));
    const flags = {
      listen: '127.0.0.1:0',
      db: url,
      token: ADMIN_TOKEN,
      consoleJwks: idp.jwksFile,
      grantKey,
      grantIssuer: 'console-pg',
      grantAudience: 'urn:test',
    };
    const token = async (g: ConsoleServer, fields: Record<string, string>) =>
      (await (
        await fetch(`${g.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, ...fields }),
        })
      ).json()) as Json;
    const subject = await idp.jwt('agent:mailer');
    let g = await openConsole(flags);
    const held = await token(g, {
      subject_token: subject,
      intent: JSON.stringify({ purpose: 'send the report', tools: ['send_email'], budget: { calls: 2 } }),
    });
    assert.equal(held.error, 'authorization_pending');
    await g.close();
    g = await openConsole(flags);
    try {
      const listed = await get(g, '/api/grants');
      assert.deepEqual(
        listed.requests.map((r: Json) => [r.id, r.status]),
        [[held.request_id, 'pending']],
      );
      const decided = await api(g, `/grants/${held.request_id}`, {
        method: 'POST',
        bearer: ADMIN_TOKEN,
        body: { decision: 'approve' },
      });
      assert.equal(decided.status, 303);
      const got = await token(g, { subject_token: subject, request_id: held.request_id });
      const grant = await verifyGrant(got.access_token, {
        keys: await resolveKeys({ jwks: keys.publicJwks }),
        issuers: ['console-pg'],
        audience: 'urn:test',
      });
      assert.deepEqual([grant.identity.sub, grant.intent?.purpose], ['agent:mailer', 'send the report']);
    } finally {
      await g.close();
    }
  });

  it('a call held on one instance is approved from the console and completes there', async () => {
    const i = instances[1]!;
    const client = await tappedClient(
      i.monitor,
      { purpose: 'summarise my notes', tools: ['echo'] },
      { sub: 'agent:held', jti: 'jti-held' },
    );
    const call = client.callTool({ name: 'send_email', arguments: { to: 'ops@corp.test', body: 'notes' } });
    let pending: Json[] = [];
    await until(async () => {
      await i.recorder.flush();
      pending = (await get(c, '/api/approvals?state=pending')).approvals;
      return pending.some((p) => p.sub === 'agent:held');
    }, 'the held call listed');
    const a = pending.find((p) => p.sub === 'agent:held');
    assert.equal(a.tool, 'send_email');
    assert.equal((await get(c, `/api/approvals/${a.id}`)).status, 'pending');
    const decided = await post(c, `/api/approvals/${a.id}`, { decision: 'approve', scope: 'once' });
    assert.equal(decided.tool, 'send_email');
    assert.deepEqual((await call).content, [{ type: 'text', text: 'sent to ops@corp.test' }]);
    await until(
      async () => (await get(c, `/api/approvals/${a.id}`)).status === 'approved',
      'the decision sealed by the instance',
    );
    // Revoking the session's grant from the console: a chained row in the shared table, read back.
    const sessionId = a.session as string;
    assert.equal(
      (await get(c, '/api/sessions')).sessions.find((s: Json) => s.id === sessionId).revoked,
      false,
    );
    const revoked = await post(c, `/api/sessions/${sessionId}/revoke`, {});
    assert.deepEqual([revoked.jti, revoked.revoked], ['jti-held', true]);
    assert.equal(
      (await get(c, '/api/sessions')).sessions.find((s: Json) => s.id === sessionId).revoked,
      true,
    );
    const rows = await i.backend.postgres!.pg.pool.query('SELECT jti, hash FROM revocations');
    assert.deepEqual(
      rows.rows.map((r) => [r.jti, typeof r.hash]),
      [['jti-held', 'string']],
    );
    await client.close();
  });
});
