// Issue 12 boundary finding 5, "Trust zones": every URL form a client library or server accepts is read
// the way it will be fetched, bare hosts are recognised with the Public Suffix List, and an argument
// too large or too deep to scan makes the call fail closed. Plus the detection defect "dates and times
// are read as account numbers". A real SDK McpServer behind the tap, with the shipped pack.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ANALYSIS_BUDGET } from '../../src/analyze/budget.js';
import { extractTargets } from '../../src/analyze/targets.js';
import { createMonitor, loadRulePack, packPolicies, parseIntent, tap } from '../../src/index.js';

async function zoned(extra: Record<string, unknown> = {}) {
  const fetched: string[] = [];
  const server = new McpServer({ name: 'web', version: '1' });
  server.registerTool(
    'fetch_url',
    {
      description: 'Fetch a web page',
      inputSchema: {
        url: z.string(),
        note: z.string().optional(),
        pad: z.string().optional(),
        opts: z.any().optional(),
      },
    },
    async ({ url }) => {
      fetched.push(url);
      return { content: [{ type: 'text', text: 'page' }] };
    },
  );
  const monitor = createMonitor({ policy: packPolicies(loadRulePack()) });
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  await server.connect(serverT);
  const client = new Client({ name: 'agent', version: '1' });
  await client.connect(
    tap(clientT, monitor, {
      side: 'client',
      intent: parseIntent({
        purpose: 'read the docs site',
        tools: ['fetch_url'],
        zones: ['docs.corp.test'],
        ...extra,
      }),
    }),
  );
  const call = (args: Record<string, unknown>) =>
    client.callTool({ name: 'fetch_url', arguments: { url: 'https://docs.corp.test/', ...args } });
  return {
    client,
    monitor,
    fetched,
    call,
    async close() {
      await client.close();
      monitor.close();
    },
  };
}

const denied = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    const data = (e as McpError).data as { code: string; rules?: string[] };
    return data.code === 'ERR_CALL_DENIED' ? (data.rules?.join(',') ?? data.code) : data.code;
  }
  return 'passed';
};

describe('Trust zones (issue 12, boundary finding 5)', () => {
  const outside: Record<string, Record<string, unknown>> = {
    'WHATWG special scheme without slashes': { url: 'http:evil.test/noslash' },
    'one slash': { url: 'https:/evil.test/x' },
    'protocol-relative': { url: '//evil.test/x' },
    'backslashes for slashes': { url: 'https:\\\\evil.test\\x' },
    'user-info before the real host': { url: 'https://docs.corp.test@evil.test/' },
    'backslash user-info, WHATWG reads the approved host, RFC 3986 readers (urllib, curl) the other': {
      url: 'http://docs.corp.test\\@evil.test/',
    },
    'backslash user-info, the other way round': { url: 'http://evil.test\\@docs.corp.test/' },
    'bare host with a path, TLD outside any hand list': { url: 'evil.zip/bare' },
    'bare host as the whole destination': { url: 'evil.zip' },
    'a second URL in the query': { url: 'https://docs.corp.test/?next=http:evil.test' },
    'a URL after 64 KiB of padding in another argument': {
      pad: 'x'.repeat(70_000),
      note: 'then https://evil.test/x',
    },
    'a URL nested 40 levels deep': {
      opts: JSON.parse(`${'{"a":'.repeat(40)}"https://evil.test/deep"${'}'.repeat(40)}`),
    },
    'a URL in an object key': { opts: { 'https://evil.test/k': 1 } },
    // Other shapes of the same class (the audit's re-probe). IPv6 literals passed before: the brackets
    // ended the token, so no host was seen at all.
    'an IPv6 literal': { url: 'http://[::1]/' },
    'an IPv4-mapped IPv6 literal with a path': { url: 'http://[::ffff:7f00:1]/admin' },
    'an IPv6 literal with a port, protocol-relative': { url: '//[2001:db8::1]:8080/x' },
    'an IPv6 literal after user-info': { url: 'https://docs.corp.test@[2001:db8::2]/' },
    'IPv4 as one decimal number': { url: 'http://2130706433/' },
    'IPv4 in hex': { url: 'http://0x7f000001/' },
    'IPv4 in octal': { url: 'http://017700000001/' },
    'IPv4 shortened': { url: 'http://127.1/' },
    'a port in the user-info': { url: 'https://docs.corp.test:443@evil.test/' },
    'a tab in the user-info (WHATWG strips it)': { url: 'https://docs.corp.test\t@evil.test/' },
    'the zone after a fragment': { url: 'https://evil.test#.docs.corp.test' },
    'the zone as a prefix label': { url: 'https://docs.corp.test.evil.test/' },
    'an ideographic full stop': { url: 'https://evil\u3002test/' },
    'full-width letters': { url: 'https://ｅｖｉｌ.test/' },
    'a Cyrillic look-alike': { url: 'https://evіl.test/' },
    'upper case scheme and host': { url: 'HTTPS://EVIL.TEST/' },
    // A URL that reaches a local file or socket names no host: it matched no zone and passed.
    'a file URL with no host': { url: 'file:///etc/passwd' },
    'a file URL with one slash': { url: 'file:/etc/passwd' },
    'a file URL on localhost': { url: 'file://localhost/etc/passwd' },
    'a file URL in upper case': { url: 'FILE:///etc/shadow' },
    'a file URL with backslashes': { url: 'file:\\etc\\passwd' },
    'a Windows file URL': { url: 'file:///C:/Windows/win.ini' },
    'a file URL in free text': { note: 'then read file:///home/u/.ssh/id_rsa please' },
    // WHATWG reads `file:` with no slash as a path from the root too: file:etc/passwd is file:///etc/passwd.
    'a file URL with no slash': { url: 'file:etc/passwd' },
    'a file URL with no slash in free text': { note: 'then read file:etc/shadow please' },
    'a file URL inside jar:': { url: 'jar:file:etc/app.jar!/secrets.properties' },
    'a unix socket URL': { url: 'unix:///var/run/docker.sock' },
    'an http+unix socket URL': { url: 'http+unix://%2Fvar%2Frun%2Fdocker.sock/containers/json' },
  };
  for (const [name, args] of Object.entries(outside)) {
    it(`denied: ${name}`, async () => {
      const s = await zoned();
      // IG-NET-001 denies it; the intent's own resource scope may name it too.
      assert.ok((await denied(s.call(args))).split(',').includes('IG-NET-001'));
      assert.deepEqual(s.fetched, [], 'never reached the server');
      await s.close();
    });
  }

  it('data: and javascript: URLs reach no host and no local resource: they pass', async () => {
    const s = await zoned();
    for (const url of ['data:text/plain,hello', 'javascript:void(0)']) {
      assert.equal(await denied(s.call({ url })), 'passed', url);
    }
    await s.close();
  });

  it('with resources.paths approved, a file URL is left to the resource scope', async () => {
    const s = await zoned({ resources: { paths: ['/srv/docs'] } });
    assert.equal(await denied(s.call({ url: 'file:///srv/docs/guide.md' })), 'passed');
    const outside = (await denied(s.call({ url: 'file:///etc/passwd' }))).split(',');
    assert.ok(outside.includes('intent/resource-scope'), outside.join(','));
    assert.ok(!outside.includes('IG-NET-001'), outside.join(','));
    assert.deepEqual(s.fetched, ['file:///srv/docs/guide.md']);
    await s.close();
  });

  it('an argument past the analysis budget fails closed with ERR_ANALYSIS_BUDGET (never passed unscanned)', async () => {
    const s = await zoned();
    assert.equal(
      await denied(s.call({ pad: 'x'.repeat(ANALYSIS_BUDGET.bytes + 10), note: 'https://evil.test/' })),
      'ERR_ANALYSIS_BUDGET',
    );
    assert.deepEqual(s.fetched, []);
    await s.close();
  });

  it('inside the zone, and file names in free text, pass', async () => {
    const s = await zoned();
    for (const args of [
      { url: 'https://DOCS.corp.test./guide' },
      { url: '//docs.corp.test/x' },
      { note: 'see notes.md, setup.py and README.md, v1.2.3' },
    ]) {
      assert.equal(await denied(s.call(args)), 'passed', JSON.stringify(args));
    }
    assert.equal(s.fetched.length, 3);
    await s.close();
  });
});

describe('Dates and times are read as account numbers (issue 12, detection defect)', () => {
  const accounts = (text: string) =>
    [...extractTargets(text).values()].filter((t) => t.kind === 'account').map((t) => t.value);
  it('dates, date-times and times name no account', () => {
    for (const text of [
      '2024-05-19 16:00',
      'from 2024-05-19 16:00 to 2024-05-19 17:30',
      '19-05-2024 09:15',
      '05 19 2024 1600',
      '20240519 1600',
      'on 2024-05-19T16:00:00Z',
      '2024-05-19 - 2024-05-26',
      'at 16:00:00 on 19.05.2024',
    ]) {
      assert.deepEqual(accounts(text), [], text);
    }
  });
  it('account, card, routing and phone-shaped numbers are still found, also next to a date', () => {
    assert.deepEqual(accounts('pay 4111-1111-1111-1111 by 2024-05-19 16:00'), ['4111111111111111']);
    assert.deepEqual(accounts('routing 021000021, account 123456789012'), ['021000021', '123456789012']);
    assert.deepEqual(accounts('text +1 415 555 0100'), ['14155550100']);
    assert.deepEqual(accounts('IBAN GB29 NWBK 6016 1331 9268 19 due 2024-05-19'), ['GB29NWBK60161331926819']);
  });
  it('decimals and quantities are not accounts', () => {
    assert.deepEqual(accounts('pi is 3.14159265358979 and 1234567890.5 units'), []);
  });
});
