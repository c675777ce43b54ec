import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/** A real McpServer with a few tools used across tests. */
export function demoServer(): McpServer {
  const server = new McpServer({ name: 'demo', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echo text back', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool('read_notes', { description: 'Read the notes', inputSchema: {} }, async () => ({
    content: [{ type: 'text', text: 'meeting at 10' }],
  }));
  server.registerTool(
    'send_email',
    { description: 'Send an email', inputSchema: { to: z.string(), body: z.string() } },
    async ({ to }) => ({ content: [{ type: 'text', text: `sent to ${to}` }] }),
  );
  server.registerTool(
    'slow',
    { description: 'Wait a while', inputSchema: { ms: z.number() } },
    // unref: a test that ends while a slow call is still running does not wait for it.
    async ({ ms }) => {
      await new Promise((r) => setTimeout(r, ms).unref());
      return { content: [{ type: 'text', text: 'done' }] };
    },
  );
  return server;
}
