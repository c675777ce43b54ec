// The era gate on the legacy HTTP+SSE proxy (issue 15): each message is decided per request there too.
// A 2026-07-28 request on a 2025 stream gets the specification's answer (its header contradicting the
// body: -32020; else -32022, the session keeps the version it started with), never the 2025 path silently; 2025 requests go on as before. A real SDK v1
// Client over SSEClientTransport, a real legacy SSE server.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { META } from '../../src/era/keys.js';
import { sseUpstream } from '../helpers/http-upstream.js';
import { httpStack, intentDir } from './fixtures/stack.js';

const { dir, remove } = intentDir('ig-era-sse-', 'purpose: echo things\ntools: [echo]\n');
after(remove);

describe('era: the legacy HTTP+SSE proxy decides the era per request', () => {
  it('a 2026-07-28 request on a 2025-11-25 stream gets the specification error (-32020), not passed on; 2025 requests pass', async () => {
    const s = await httpStack(await sseUpstream(), dir);
    const client = new Client({ name: 'sse-agent', version: '1' });
    try {
      await client.connect(new SSEClientTransport(new URL(s.url)));
      const ok = await client.callTool({ name: 'echo', arguments: { text: 'old' } });
      assert.ok(!ok.isError, JSON.stringify(ok));
      await assert.rejects(
        client.request(
          {
            method: 'tools/call',
            params: {
              name: 'echo',
              arguments: { text: 'new' },
              _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} },
            },
          },
          CallToolResultSchema,
        ),
        // The client's MCP-Protocol-Version header (2025-11-25) contradicts the body: HeaderMismatch.
        (e: { code?: number }) => e.code === -32020,
      );
      const again = await client.callTool({ name: 'echo', arguments: { text: 'still' } });
      assert.ok(!again.isError);
    } finally {
      await client.close();
      await s.close();
    }
  });
});
