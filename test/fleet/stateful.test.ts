// Stateful (Mcp-Session-Id, 2025-11-25) sessions across a fleet: every session of a grant is served by
// the instance owning the grant's state (a lease keyed by the grant), whichever instance the client
// connected to; when that owner is killed (SIGKILL, mid-session), the other instance takes the state
// over, rebuilds it from the record and continues the sessions with the upstream's own session ids.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pg from 'pg';
import { assertVerifies, connectAgent, startTwoInstances, type TwoInstances } from './fleet-helpers.js';
import { EXFIL, mail, TEAM, v1Mail, WRITER } from './v1-mail.js';

const sidOf = (c: Client) => (c.transport as StreamableHTTPClientTransport).sessionId!;

for (const json of [true, false])
  describe(`stateful sessions across a fleet (two instances, one PostgreSQL; upstream answers ${json ? 'JSON' : 'SSE'})`, () => {
    let fleet: TwoInstances<Awaited<ReturnType<typeof v1Mail>>>;
    // No approval channel: a call the policies hold is refused at once (HTTP 403, step-up).
    before(async () => {
      fleet = await startTwoInstances(`fleet_stateful_${json ? 'json' : 'sse'}`, {
        upstream: () => v1Mail(json),
        approvals: false,
      });
    });
    after(() => fleet?.stop());

    it('provenance of session 1 on A decides session 2 landing on B; A killed, both sessions go on on B', async () => {
      const { a, b, kit, upstream, url } = fleet;
      const exfiltrated = () => upstream.seen.filter((r) => r.body.includes(`"to":"${EXFIL}"`)).length;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const clients: Client[] = [];
      try {
        // The control: a grant that never read the notes mails that address (nothing tainted it).
        const other = await connectAgent(b.url, await kit.grant('agent:control', WRITER));
        clients.push(other);
        assert.equal(await mail(other, EXFIL), 'ran');
        assert.equal(exfiltrated(), 1);

        const token = await kit.grant('agent:writer', WRITER);
        // Session 1, on A: the notes carry an instruction to mail them out.
        const s1 = await connectAgent(a.url, token);
        clients.push(s1);
        const notes = await s1.callTool({ name: 'read_notes', arguments: {} });
        assert.match(JSON.stringify(notes.content), new RegExp(EXFIL));
        // Session 2 of the same grant, its client connected to B: served by A, which owns the grant's state.
        const s2 = await connectAgent(b.url, token);
        clients.push(s2);
        assert.equal(await mail(s2, EXFIL), 'refused', 'session 1 read that instruction');
        assert.equal(await mail(s2, TEAM), 'ran');
        const owners = await admin.query<{ handle: string; owner: string }>(
          `SELECT f.handle, l.owner FROM fleet_sessions f JOIN state_leases l ON l.scope = f.scope
          WHERE f.handle = ANY($1)`,
          [[sidOf(s1), sidOf(s2)]],
        );
        assert.equal(owners.rows.length, 2);
        assert.equal(new Set(owners.rows.map((r) => r.owner)).size, 1, 'one owner for both sessions');
        const held = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM decisions d JOIN fleet_sessions f ON f.id = d.session_id
          WHERE f.handle = $1 AND d.findings_json LIKE '%IG-PRV-%'`,
          [sidOf(s2)],
        );
        assert.ok(held.rows[0]!.n > 0, 'session 2 was stopped by a provenance rule');

        await a.kill();

        // Session 2 goes on, on B: its state rebuilt from the record, its upstream session continued.
        assert.equal(await mail(s2, TEAM), 'ran');
        assert.equal(await mail(s2, EXFIL), 'refused', 'the provenance survived');
        // A new session of the grant on B: the grant's state (session 1's notes) holds there too.
        const s3 = await connectAgent(b.url, token);
        clients.push(s3);
        assert.equal(await mail(s3, EXFIL), 'refused');
        assert.equal(exfiltrated(), 1, 'only the control mailed that address');

        await Promise.allSettled(clients.map((c) => c.close()));
        await b.stop();
        const seqs = await admin.query<{ session_id: string; seqs: number[] }>(
          'SELECT session_id, array_agg(seq ORDER BY seq) AS seqs FROM events GROUP BY session_id',
        );
        for (const r of seqs.rows)
          assert.deepEqual(
            r.seqs.map(Number),
            r.seqs.map((_, i) => i),
            `session ${r.session_id}: one sequence, no gap, no repeat`,
          );
        await assertVerifies(url, kit.auditKey);
      } finally {
        await Promise.allSettled(clients.map((c) => c.close()));
        await admin.end();
      }
    });
  });
