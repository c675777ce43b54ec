// A real SDK Client ↔ McpServer session (InMemory transports) through the tap with the shipped pack:
// the adversarial detection tests drive agents' calls through it and read the monitor's decisions.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { createMonitor, parseIntent, tap, type Decision } from '../../../src/index.js';
import { loadRulePack, packPolicies } from '../../../src/rules/pack.js';

export interface ToolSpec {
  readonly name: string;
  readonly description?: string;
  readonly annotations?: Record<string, unknown>;
  /** What the tool answers: fixed text, or computed from the arguments. */
  readonly answer?: string | ((args: Record<string, unknown>) => string);
}

export interface Guarded {
  /** Call a tool; resolves with the decision taken on that call (allow when none was recorded). */
  call(
    name: string,
    args?: Record<string, unknown>,
  ): Promise<{ action: string; rules: string[]; text: string }>;
  readonly decisions: Decision[];
  close(): Promise<void>;
}

const pack = loadRulePack();

/** Start a guarded session with these tools and this approval (intent as `parseIntent` accepts it). */
export async function guardedSession(
  tools: readonly ToolSpec[],
  intent: Record<string, unknown>,
): Promise<Guarded> {
  let now = Date.parse('2026-03-02T10:00:00Z');
  const monitor = createMonitor({ policy: packPolicies(pack), clock: () => now });
  const decisions: Decision[] = [];
  monitor.decisions$.subscribe((d) => decisions.push(d));
  const server = new McpServer({ name: 'adversarial-server', version: '1' });
  for (const t of tools) {
    server.registerTool(
      t.name,
      {
        description: t.description ?? '',
        inputSchema: z.object({}).passthrough(),
        ...(t.annotations && { annotations: t.annotations }),
      },
      async (args: Record<string, unknown>) => ({
        content: [
          { type: 'text', text: typeof t.answer === 'function' ? t.answer(args) : (t.answer ?? 'ok') },
        ],
      }),
    );
  }
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await server.connect(st);
  const client = new Client({ name: 'agent', version: '1' });
  await client.connect(tap(ct, monitor, { side: 'client', intent: parseIntent(intent) }));
  await client.listTools();
  return {
    decisions,
    async call(name, args = {}) {
      const before = decisions.length;
      now += 1000;
      let text: string;
      try {
        const r = await client.callTool({ name, arguments: args });
        text = (r.content as { text?: string }[]).map((c) => c.text ?? '').join('\n');
      } catch (e) {
        text = String((e as Error).message);
      }
      const mine = decisions.slice(before).filter((d) => d.kind === 'request' && d.method === 'tools/call');
      const d = mine[mine.length - 1];
      return {
        action: d?.action ?? 'allow',
        rules: d?.findings.filter((f) => f.action !== 'allow').map((f) => f.rule) ?? [],
        text,
      };
    },
    async close() {
      await client.close().catch(() => undefined);
      monitor.close();
    },
  };
}
