import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TOKEN_EXCHANGE } from '../../src/console/grants.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { verifyGrant } from '../../src/identity/grant.js';
import { generateKeys, resolveKeys } from '../../src/identity/keys.js';
import { verifyAudit } from '../../src/store/audit.js';
import { openStore } from '../../src/store/db.js';
import { ADMIN_TOKEN, api, consoleOn, type Json } from './fixture.js';

describe('grant requests across a console restart', () => {
  it('a waiting request is pending again after a restart, and a decision then mints the grant', async () => {
    const keys = await generateKeys('ES256');
    const grants = { privateJwk: keys.privateJwk, iss: 'console-test', aud: 'urn:test' };
    const ctx = await consoleOn({ grants });
    const post = async (c: ConsoleServer, fields: Record<string, string>) => {
      const r = await fetch(`${c.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields),
      });
      return (await r.json()) as Json;
    };
    const subject = await ctx.idp.jwt('agent:mailer');
    const intent = { purpose: 'send the weekly report', tools: ['send_email'], budget: { calls: 3 } };
    const held = await post(ctx.console, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: subject,
      intent: JSON.stringify(intent),
    });
    assert.equal(held.error, 'authorization_pending');
    const id = held.request_id as string;
    // Another request whose stored row is then edited: it must not come back (fail closed).
    const edited = await post(ctx.console, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: subject,
      intent: JSON.stringify({ ...intent, purpose: 'send one mail' }),
    });
    await ctx.close();
    const tamper = openStore(ctx.db);
    tamper.db
      .prepare('UPDATE grant_requests SET intent_json = ? WHERE id = ?')
      .run(JSON.stringify({ ...intent, tools: '*' }), edited.request_id);
    tamper.close();

    // The restart: a new process's console on the same database file.
    const store = openStore(ctx.db);
    let c = await startConsole({ store, port: 0, token: ADMIN_TOKEN, jwks: ctx.idp.jwksFile, grants });
    try {
      const listed = (await (await api(c, '/api/grants', { bearer: ADMIN_TOKEN })).json()) as Json;
      assert.deepEqual(
        listed.requests.map((r: Json) => [r.id, r.sub, r.status, r.intent.purpose]),
        [[id, 'agent:mailer', 'pending', 'send the weekly report']],
      );
      assert.equal(
        (await post(c, { grant_type: TOKEN_EXCHANGE, subject_token: subject, request_id: id })).error,
        'authorization_pending',
      );
      assert.equal(
        (
          await post(c, {
            grant_type: TOKEN_EXCHANGE,
            subject_token: subject,
            request_id: edited.request_id,
          })
        ).error,
        'invalid_request',
      );
      const decided = await api(c, `/grants/${id}`, {
        method: 'POST',
        bearer: ADMIN_TOKEN,
        body: { decision: 'approve' },
      });
      assert.equal(decided.status, 303);
      const got = await post(c, { grant_type: TOKEN_EXCHANGE, subject_token: subject, request_id: id });
      assert.ok(got.access_token, JSON.stringify(got));
      const grant = await verifyGrant(got.access_token, {
        keys: await resolveKeys({ jwks: keys.publicJwks }),
        issuers: ['console-test'],
        audience: 'urn:test',
      });
      assert.equal(grant.identity.sub, 'agent:mailer');
      assert.equal(grant.intent?.purpose, 'send the weekly report');
      // Another restart: the request reads granted, and its grant is minted again when collected.
      await c.close();
      c = await startConsole({ store, port: 0, token: ADMIN_TOKEN, jwks: ctx.idp.jwksFile, grants });
      const again = await post(c, { grant_type: TOKEN_EXCHANGE, subject_token: subject, request_id: id });
      assert.equal(
        (
          await verifyGrant(again.access_token, {
            keys: await resolveKeys({ jwks: keys.publicJwks }),
            issuers: ['console-test'],
            audience: 'urn:test',
          })
        ).identity.sub,
        'agent:mailer',
      );
      const row = store.db.prepare('SELECT status, approver FROM approvals WHERE id = ?').get(id);
      assert.deepEqual(row, { status: 'approved', approver: 'console:admin-token' });
      // The audit finds the one row edited above, and nothing else (the decided request verifies).
      assert.deepEqual(
        verifyAudit(store).problems.map((p) => [
          p.table,
          p.kind,
          p.detail.includes(String(edited.request_id)),
        ]),
        [['grant_requests', 'edited', true]],
      );
    } finally {
      await c.close();
      store.close();
    }
  });
});
