// An upstream server's own MRTR rounds through intentguard (issue 15): the inputRequests of its
// `input_required` results are shown to the rules as the server requests they stand for — a password
// elicitation is refused (IG-SRV-002) and the result withheld; a confirmation passes to the client —
// and a call intentguard approved is not asked about again when the server continues it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { RPC_CODES } from '../../src/errors.js';
import { httpStack, intentDir } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const { dir, remove } = intentDir('ig-era-rounds-', 'purpose: sign in and echo\ntools: [echo, sign_in]\n');
after(remove);

type Schema = { properties?: Record<string, unknown> };

/** A v2 client whose elicitation handler answers whatever is asked, and notes what it was asked. */
function answeringClient() {
  const asked: string[] = [];
  const client = new Client(
    { name: 'v2-agent', version: '2' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  client.setRequestHandler('elicitation/create', async (req) => {
    const props = Object.keys((req.params as { requestedSchema?: Schema }).requestedSchema?.properties ?? {});
    asked.push(props.join(','));
    const content: Record<string, unknown> = {};
    for (const p of props) content[p] = p === 'password' ? 'hunter2' : true;
    return { action: 'accept', content } as never;
  });
  return { client, asked };
}

async function stack() {
  const upstream = await v2HttpServer();
  return { upstream, ...(await httpStack(upstream, dir)) };
}

describe("era: an upstream server's own MRTR rounds", () => {
  it('a password elicitation in inputRequests is refused by the rules on server requests; the client never sees it', async () => {
    const s = await stack();
    try {
      const { client, asked } = answeringClient();
      await client.connect(new StreamableHTTPClientTransport(new URL(s.url)));
      await assert.rejects(
        client.callTool({ name: 'sign_in', arguments: { user: 'ann' } }),
        (e: { code?: number; message?: string; data?: { code?: string } }) =>
          e.code === RPC_CODES.DENIED &&
          e.data?.code === 'ERR_INPUT_REQUEST_DENIED' &&
          /asks for sensitive data/.test(e.message ?? ''),
      );
      assert.deepEqual(asked, [], 'the password prompt never reached the client');
      const srv = s.events.find((e) => e.dir === 's2c' && e.kind === 'request');
      assert.equal(srv?.method, 'elicitation/create', 'the embedded request was a server request event');
      await client.close();
    } finally {
      await s.close();
    }
  });

  it('a held call approved over MRTR whose server then asks for confirmation: the confirmation passes, intentguard does not ask twice', async () => {
    const s = await stack();
    try {
      const { client, asked } = answeringClient();
      await client.connect(new StreamableHTTPClientTransport(new URL(s.url)));
      const r = await client.callTool({ name: 'deploy', arguments: { env: 'prod' } });
      assert.deepEqual(r.content, [{ type: 'text', text: 'deployed to prod' }]);
      assert.deepEqual(asked, ['approve', 'confirm'], "intentguard's prompt once, then the server's own");
      assert.equal(
        s.upstream.received.filter((m) => (m.params as { name?: string } | undefined)?.name === 'deploy')
          .length,
        2,
        'the approved call and its continuation',
      );
      await client.close();
    } finally {
      await s.close();
    }
  });
});
