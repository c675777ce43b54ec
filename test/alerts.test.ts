import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Subject } from 'rxjs';
import WebSocket from 'ws';
import { createMonitor, loadRulePack, packPolicies, type Alert } from '../src/index.js';
import { toOcsf } from '../src/alerts/ocsf.js';
import { signWebhook, webhookSink } from '../src/alerts/webhook.js';
import { alertStream } from '../src/alerts/ws-stream.js';
import { openStore } from '../src/store/db.js';
import { driveSession } from './helpers/session.js';
import { waitFor } from './helpers/wait.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { parseIntent, tap } from '../src/index.js';
import { demoServer } from './helpers/servers.js';

async function realAlerts(): Promise<Alert[]> {
  const monitor = createMonitor({ policy: packPolicies(loadRulePack()) });
  const alerts: Alert[] = [];
  monitor.alerts$.subscribe((a) => alerts.push(a));
  const [c, s] = InMemoryTransport.createLinkedPair();
  await demoServer().connect(s);
  const client = new Client({ name: 'a', version: '1' });
  await client.connect(
    tap(c, monitor, {
      side: 'client',
      intent: parseIntent({ purpose: 'echo', tools: ['echo'] }),
      identity: { sub: 'agent:alerts', jti: 'j-1' },
    }),
  );
  await client.callTool({
    name: 'echo',
    arguments: { text: 'token: ghp_abcdefghijklmnopqrstuvwxyz0123456789AB' },
  });
  await client
    .callTool({ name: 'send_email', arguments: { to: 'a@b.example', body: 'x' } })
    .catch(() => undefined);
  await client.close();
  monitor.close();
  return alerts;
}

describe('alerts', () => {
  it('are OCSF Detection Findings with identity, session, intent, rule and action, and never carry the secret they report', async () => {
    const alerts = await realAlerts();
    const secret = alerts.find((a) => a.rule === 'IG-SEC-001')!;
    const f = toOcsf(secret);
    assert.equal(f.class_uid, 2004);
    assert.equal(f.type_uid, 200401);
    assert.equal(f.severity_id, 3);
    assert.equal(f.actor.user.uid, 'agent:alerts');
    assert.equal(f.finding_info.analytic.uid, 'IG-SEC-001');
    assert.equal((f.unmapped.intent as { purpose: string }).purpose, 'echo');
    assert.equal(f.disposition_id, 17);
    assert.ok(!JSON.stringify(f).includes('ghp_abcdefghijklmnopqrstuvwxyz'), 'the token must not appear');
    const held = toOcsf(alerts.find((a) => a.rule === 'IG-INT-001')!);
    assert.equal(held.action_id, 2);
    assert.equal(held.unmapped.grant_jti, 'j-1');
  });

  it('webhook: signed bodies, retries with backoff until the endpoint accepts', async () => {
    const received: { body: string; sig: string; ts: string }[] = [];
    let failures = 2;
    const server = createServer((req, res) => {
      let body = '';
      req
        .on('data', (c) => (body += c))
        .on('end', () => {
          if (failures-- > 0) {
            res.writeHead(503).end();
            return;
          }
          received.push({
            body,
            sig: String(req.headers['x-intentguard-signature']),
            ts: String(req.headers['x-intentguard-timestamp']),
          });
          res.writeHead(204).end();
        });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    const alerts$ = new Subject<Alert>();
    const sink = webhookSink(alerts$, { url, secret: 's3cret', baseDelayMs: 10 });
    const [alert] = (await realAlerts()).filter((a) => a.rule === 'IG-INT-001');
    alerts$.next(alert!);
    await waitFor(() => received.length === 1 && sink.delivered === 1, 'delivery after retries');
    assert.equal(received[0]!.sig, signWebhook('s3cret', received[0]!.ts, received[0]!.body));
    assert.equal(JSON.parse(received[0]!.body).finding_info.analytic.uid, 'IG-INT-001');
    assert.equal(sink.delivered, 1);
    await sink.close();
    server.close();
  });

  it('webhook: undelivered alerts are kept in SQLite and delivered after a restart', async () => {
    const store = openStore(join(mkdtempSync(join(tmpdir(), 'ig-outbox-')), 'intentguard.db'));
    const down = 'http://127.0.0.1:9/unreachable';
    const alerts$ = new Subject<Alert>();
    const first = webhookSink(alerts$, { url: down, secret: 'k', store, baseDelayMs: 10, name: 'soc' });
    for (const a of await realAlerts()) alerts$.next(a);
    await first.drain();
    assert.ok(first.pending() >= 2, 'kept in the outbox');
    await first.close();
    const received: string[] = [];
    const server = createServer((req, res) => {
      let b = '';
      req
        .on('data', (c) => (b += c))
        .on('end', () => {
          received.push(b);
          res.writeHead(200).end();
        });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const n = (store.db.prepare('SELECT count(*) n FROM outbox').get() as { n: number }).n;
    const second = webhookSink(new Subject<Alert>(), {
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
      secret: 'k',
      store,
      baseDelayMs: 10,
      name: 'soc',
      clock: () => Date.now() + 3_600_000,
    });
    try {
      await waitFor(() => received.length === n && second.pending() === 0, 'outbox delivery');
      assert.equal(second.delivered, n);
    } finally {
      await second.close();
      server.close();
      store.close();
    }
  });

  it('WebSocket stream: refused without the token, streams OCSF alerts with it', async () => {
    const monitor = createMonitor();
    const stream = await alertStream(monitor.alerts$, { token: 'console-token' });
    const denied = await new Promise<number>((resolve) => {
      const ws = new WebSocket(stream.url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    assert.equal(denied, 401);
    const ws = new WebSocket(stream.url, { headers: { authorization: 'Bearer console-token' } });
    await new Promise((r) => ws.on('open', r));
    const got = new Promise<string>((r) => ws.on('message', (m) => r(String(m))));
    await driveSession(monitor);
    const f = JSON.parse(await got);
    assert.equal(f.class_uid, 2004);
    assert.equal(f.finding_info.analytic.uid, 'intent/tool-not-approved');
    // A console that sends a frame over the limit is dropped (1009); the stream goes on for the others.
    const rogue = new WebSocket(stream.url, { headers: { authorization: 'Bearer console-token' } });
    await new Promise((r) => rogue.on('open', r));
    rogue.send('x'.repeat(10_000));
    assert.equal(await new Promise<number>((r) => rogue.on('close', (code) => r(code))), 1009);
    const again = new Promise<string>((r) => ws.once('message', (m) => r(String(m))));
    await driveSession(monitor);
    assert.equal(JSON.parse(await again).class_uid, 2004);
    ws.close();
    await stream.close();
    monitor.close();
  });
});
