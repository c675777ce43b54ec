// Stateful sessions to a stdio server across a fleet (`intentguard http -- <command>`: a server process
// per session, living in the instance that owns the grant's state). A session of the grant connected
// to B is served by A; when A is killed its server processes die with it: the session's next request
// gets the spec's 404 and its client initializes again, on B, under the grant's state rebuilt from the
// record (what session 1 read still taints what the new session sends).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  assertVerifies,
  connectAgent,
  fleetKit,
  startInstance,
  suiteDatabase,
  type FleetKit,
  type Instance,
} from './fleet-helpers.js';
import { EXFIL, mail, TEAM, WRITER } from './v1-mail.js';

const server = {
  command: process.execPath,
  args: ['--import', 'tsx', fileURLToPath(new URL('./fixtures/stdio-mail.ts', import.meta.url))],
};

describe('stdio-server sessions across a fleet (two instances, one PostgreSQL)', () => {
  const db = suiteDatabase('fleet_bridge');
  let kit: FleetKit;
  let a: Instance, b: Instance;
  before(async () => {
    kit = await fleetKit();
    // No upstream URL is used: each instance starts the server per session. No approval channel.
    const start = () => startInstance(kit, db.url, 'http://127.0.0.1:9/unused', { approvals: false, server });
    [a, b] = await Promise.all([start(), start()]);
  });
  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
  });

  it('session 2 on B is served by A; A killed: 404, the client initializes again on B, the grant state holds', async () => {
    const token = await kit.grant('agent:writer', WRITER);
    const clients: Client[] = [];
    try {
      const s1 = await connectAgent(a.url, token);
      clients.push(s1);
      assert.match(
        JSON.stringify((await s1.callTool({ name: 'read_notes', arguments: {} })).content),
        /exfil/,
      );
      const s2 = await connectAgent(b.url, token);
      clients.push(s2);
      assert.equal(await mail(s2, EXFIL), 'refused', 'served by A, where session 1 read the notes');
      assert.equal(await mail(s2, TEAM), 'ran');

      await a.kill();

      await assert.rejects(
        s2.callTool({ name: 'send_email', arguments: { to: TEAM, body: 'again' } }),
        (e: { code?: unknown }) => e.code === 404 && /unknown or ended session/.test(String(e)),
        'its server process died with A: the spec’s 404',
      );
      const s3 = await connectAgent(b.url, token);
      clients.push(s3);
      assert.equal(await mail(s3, EXFIL), 'refused', 'the grant’s state rebuilt on B');
      assert.equal(await mail(s3, TEAM), 'ran');
      await Promise.allSettled(clients.map((c) => c.close()));
      await b.stop();
      await assertVerifies(db.url, kit.auditKey);
    } finally {
      await Promise.allSettled(clients.map((c) => c.close()));
    }
  });
});
