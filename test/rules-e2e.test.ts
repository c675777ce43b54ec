// Every rule fixture, run end to end: a real SDK Client and McpServer over InMemory, the tap in between,
// the scripted tool results served by real tool handlers. The monitor must reach the same findings as
// the replay runner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { createMonitor, tap, type Decision } from '../src/index.js';
import { parseDuration } from '../src/lib/duration.js';
import {
  checkExpectation,
  loadFixtures,
  type FixtureCase,
  type FixtureStep,
} from '../src/replay/fixtures.js';
import { loadRulePack, packPolicies } from '../src/rules/pack.js';

const set = loadRulePack();
const fixtures = loadFixtures(['rules']);

type ToolDef = { name: string; description?: string; annotations?: Record<string, unknown> };
const toolDef = (t: string | ToolDef): ToolDef => (typeof t === 'string' ? { name: t } : t);

async function runCase(
  rule: string,
  c: FixtureCase,
  intent: NonNullable<FixtureCase['intent']>,
): Promise<Decision[]> {
  let now = Date.parse('2026-01-01T12:00:00Z');
  const monitor = createMonitor({
    policy: packPolicies(set, c.fault ? { faultRules: new Set([rule]) } : {}),
    clock: () => now,
  });
  const decisions: Decision[] = [];
  monitor.decisions$.subscribe((d) => decisions.push(d));
  const server = new McpServer(
    { name: 'fixture-server', version: '1' },
    { capabilities: { tools: { listChanged: true } } },
  );
  // Scripted results, served in step order per tool.
  const results = new Map<string, { text: string; error: boolean }[]>();
  const registered = new Map<string, RegisteredTool>();
  const register = (def: ToolDef) => {
    const existing = registered.get(def.name);
    if (existing) {
      existing.update({
        ...(def.description !== undefined && { description: def.description }),
        ...(def.annotations && { annotations: def.annotations }),
      });
      return;
    }
    registered.set(
      def.name,
      server.registerTool(
        def.name,
        {
          description: def.description ?? `${def.name} tool`,
          inputSchema: z.object({}).passthrough(),
          ...(def.annotations && { annotations: def.annotations }),
        },
        async () => {
          const r = results.get(def.name)?.shift() ?? { text: 'ok', error: false };
          return { content: [{ type: 'text', text: r.text }], isError: r.error };
        },
      ),
    );
  };
  const steps: FixtureStep[] = c.steps.flatMap((s) =>
    'call' in s && (s.repeat ?? 1) > 1 ? Array.from({ length: s.repeat! }, () => ({ ...s, repeat: 1 })) : [s],
  );
  const firstTools = steps.find((s): s is Extract<FixtureStep, { tools: unknown }> => 'tools' in s);
  for (const t of firstTools?.tools ?? []) register(toolDef(t));
  for (const s of steps) if ('call' in s && !registered.has(s.call)) register({ name: s.call });
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await server.connect(st);
  const client = new Client(
    { name: 'fixture', version: '1' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    role: 'assistant',
    model: 'm',
    content: { type: 'text', text: 'ok' },
  }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' }));
  await client.connect(tap(ct, monitor, { side: 'client', intent }));
  let listed = 0;
  for (const s of steps) {
    if ('wait' in s) {
      now += parseDuration(s.wait);
    } else if ('tools' in s) {
      if (listed++ > 0) for (const t of s.tools) register(toolDef(t));
      await client.listTools().catch(() => undefined);
    } else if ('server_request' in s) {
      const { method, params } = s.server_request;
      const call =
        method === 'sampling/createMessage'
          ? server.server.createMessage({ messages: [], maxTokens: 10, ...(params as object) } as never)
          : server.server.elicitInput({
              message: 'x',
              requestedSchema: { type: 'object', properties: {} },
              ...(params as object),
            } as never);
      await call.catch(() => undefined);
    } else {
      if (s.result !== undefined || s.error)
        results.set(s.call, [
          ...(results.get(s.call) ?? []),
          { text: s.result ?? 'error', error: Boolean(s.error) },
        ]);
      await client.callTool({ name: s.call, arguments: s.args ?? {} }).catch(() => undefined);
      now += 1000;
    }
    if (decisions.some((d) => d.action === 'halt')) break;
  }
  await client.close().catch(() => undefined);
  monitor.close();
  return decisions;
}

describe('rule fixtures end to end through the tap (real SDK Client and McpServer)', () => {
  for (const fx of fixtures) {
    for (const c of fx.cases) {
      it(`${fx.rule}: ${c.name}`, async () => {
        const decisions = await runCase(fx.rule, c, c.intent ?? fx.intent);
        const problem = checkExpectation(fx.rule, decisions, c.expect);
        assert.equal(problem, undefined, problem);
      });
    }
  }
});
