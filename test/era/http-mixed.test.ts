// The SDK lines mixed over Streamable HTTP through `intentguard http --upstream` (issue 15: "v2 client →
// intentguard → v1 server, v1 client → v2 server"): a v2 Client negotiating on its own in front of a v1
// server (server-everything) falls back to 2025-11-25 through intentguard; a v1 Client in front of a v2
// McpServer behind createMcpHandler keeps 2025-11-25. Each is decided as before: an out-of-intent call
// is refused with intentguard's code.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Http } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { RPC_CODES } from '../../src/errors.js';
import { everythingHttp } from '../helpers/everything-http.js';
import { httpStack, intentDir } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const { dir, remove } = intentDir('ig-era-mixed-', 'purpose: echo things\ntools: [echo]\n');
after(remove);

/** A 2025-11-25 session through intentguard: an out-of-intent call refused with intentguard's code. */
async function decidedAsBefore(
  client: {
    callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
    close(): Promise<void>;
  },
  events: readonly { method?: string }[],
  refused: { name: string; arguments: Record<string, unknown> },
) {
  await assert.rejects(
    client.callTool(refused),
    (e: unknown) => (e as { code?: number }).code === RPC_CODES.DENIED,
  );
  assert.ok(
    events.some((e) => e.method === 'initialize'),
    'a 2025-11-25 session',
  );
  await client.close();
}

describe('era: SDK v1 and v2 mixed over Streamable HTTP', () => {
  it('v2 client → intentguard http → v1 server (server-everything): falls back to 2025-11-25, decided as before', async () => {
    const everything = await everythingHttp();
    const s = await httpStack({ url: everything.url, close: () => everything.stop() }, dir);
    try {
      const client = new V2Client(
        { name: 'v2-agent', version: '2' },
        { versionNegotiation: { mode: 'auto' } },
      );
      await client.connect(new V2Http(new URL(s.url)));
      const r = await client.callTool({ name: 'echo', arguments: { message: 'old' } });
      assert.match(JSON.stringify(r.content), /old/);
      await decidedAsBefore(client, s.events, { name: 'toggle-simulated-logging', arguments: {} });
    } finally {
      await s.close();
    }
  });

  it('v1 client → intentguard http → v2 McpServer (createMcpHandler): a 2025-11-25 session, decided as before', async () => {
    const upstream = await v2HttpServer();
    const s = await httpStack(upstream, dir);
    try {
      const client = new V1Client({ name: 'v1-agent', version: '1' });
      await client.connect(new V1Http(new URL(s.url)));
      assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'x' } })).content, [
        { type: 'text', text: 'x' },
      ]);
      await decidedAsBefore(client, s.events, { name: 'write_note', arguments: { title: 't', body: 'b' } });
    } finally {
      await s.close();
    }
  });
});
