// Issue 11 §1, "a per-message analysis budget": a message too large or too deep to analyse is decided
// fail closed with ERR_ANALYSIS_BUDGET (a call refused before it reaches the server, a result withheld),
// and another session's call, sent at the same time, still completes. Through real proxies and servers.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ANALYSIS_BUDGET } from '../../src/analyze/budget.js';
import { createMonitor, loadRulePack, packPolicies, parseIntent, tap } from '../../src/index.js';
import { startHttpProxy } from '../../src/transports/http/server.js';
import { httpUpstream } from '../helpers/http-upstream.js';
import { enforcingRuntime } from '../helpers/runtime.js';

const codeOf = (e: unknown) => ((e as McpError).data as { code?: string } | undefined)?.code;

async function httpStack() {
  const dir = mkdtempSync(join(tmpdir(), 'ig-budget-'));
  writeFileSync(
    join(dir, 'intent.yaml'),
    'purpose: echo and send my notes to team@corp.test\ntools: [echo, send_email]\n',
  );
  const upstream = await httpUpstream();
  const runtime = await enforcingRuntime(join(dir, 'intent.yaml'));
  const proxy = await startHttpProxy({
    upstream: upstream.url,
    runtime,
    resource: 'https://intentguard.test/mcp',
  });
  const client = async (name: string) => {
    const c = new Client({ name, version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(proxy.url)));
    return c;
  };
  return {
    upstream,
    client,
    async close() {
      await proxy.close();
      await runtime.close();
      await upstream.close();
    },
  };
}

describe('per-message analysis budget (issue 11 §1)', () => {
  it("a huge pathological argument over intentguard http is refused with ERR_ANALYSIS_BUDGET, never forwarded; a concurrent session's call completes", async () => {
    const s = await httpStack();
    const attacker = await s.client('attacker');
    const other = await s.client('other-agent');
    // The shape that froze the old proxy ('q.qq ' + 'a.' * n + '1'), past the byte budget but under the wire limit.
    const huge = `q.qq ${'a.'.repeat(ANALYSIS_BUDGET.bytes)}1`;
    const [refused, fine] = await Promise.allSettled([
      attacker.callTool({ name: 'send_email', arguments: { to: 'team@corp.test', body: huge } }),
      other.callTool({ name: 'echo', arguments: { text: 'still served' } }),
    ]);
    assert.equal(refused.status, 'rejected');
    assert.equal(codeOf((refused as PromiseRejectedResult).reason), 'ERR_ANALYSIS_BUDGET');
    assert.equal(fine.status, 'fulfilled');
    assert.deepEqual((fine as PromiseFulfilledResult<{ content: unknown }>).value.content, [
      { type: 'text', text: 'still served' },
    ]);
    assert.ok(
      !s.upstream.seen.some((r) => r.body.includes('a.a.a.a.')),
      'the unanalysed call never reached the server',
    );
    // The refused session goes on: a normal call still works.
    assert.deepEqual((await attacker.callTool({ name: 'echo', arguments: { text: 'after' } })).content, [
      { type: 'text', text: 'after' },
    ]);
    await attacker.close();
    await other.close();
    await s.close();
  });

  it('a tool result over the budget from a real server-filesystem is withheld with ERR_ANALYSIS_BUDGET', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-budget-fs-'));
    writeFileSync(join(dir, 'big.txt'), '\n'.repeat(ANALYSIS_BUDGET.bytes + 1000));
    writeFileSync(join(dir, 'small.txt'), 'quarterly numbers');
    const monitor = createMonitor({ policy: packPolicies(loadRulePack()) });
    const inner = new StdioClientTransport({
      command: process.execPath,
      args: ['node_modules/@modelcontextprotocol/server-filesystem/dist/index.js', dir],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      tap(inner, monitor, {
        side: 'client',
        intent: parseIntent({ purpose: 'read my files', tools: ['read_text_file'] }),
      }),
    );
    await assert.rejects(
      client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'big.txt') } }),
      (e: unknown) => {
        assert.equal(codeOf(e), 'ERR_ANALYSIS_BUDGET');
        return true;
      },
    );
    const ok = await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'small.txt') } });
    assert.match(JSON.stringify(ok.content), /quarterly numbers/);
    await client.close();
    monitor.close();
  });
});
