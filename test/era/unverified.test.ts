// What a 2026-07-28 client says about itself in each request's `_meta` (clientInfo, the protocol
// version) is what the rules read as `unverified.*` (issue 15: "recorded per request as unverified.*"):
// there is no initialize to read it from. A site rule on `unverified.client_name` decides a stateless
// request through `intentguard http`, request by request; the tap sees the same. Real SDK v2 server.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { META } from '../../src/era/keys.js';
import { postV2 } from '../helpers/v2-http.js';
import type { Answer } from './fixtures/post.js';
import { httpStack, intentDir } from './fixtures/stack.js';
import { v2HttpServer } from './fixtures/v2-http.js';

const { dir, remove } = intentDir('ig-era-unverified-', 'purpose: echo things\ntools: [echo]\n');
after(remove);
const site = join(dir, 'site');
mkdirSync(site);
writeFileSync(
  join(site, 'SITE-CLIENT-001.yaml'),
  [
    'id: SITE-CLIENT-001',
    'title: A client this site does not run',
    'description: deny calls from a client that names itself sneaky-agent, on protocol 2026-07-28',
    'severity: high',
    'match:',
    '  on: tool_call',
    '  when: unverified.client_name == "sneaky-agent" && unverified.protocol_version == "2026-07-28"',
    'action: deny',
    'message: "{{unverified.client_name}} {{unverified.client_version}} is not run here"',
    '',
  ].join('\n'),
);

let n = 0;
const echo = (url: string, client: { name: string; version: string }) =>
  postV2<Answer['body']>(url, {
    id: `c${n++}`,
    method: 'tools/call',
    params: {
      name: 'echo',
      arguments: { text: client.name },
      _meta: {
        [META.protocolVersion]: '2026-07-28',
        [META.clientCapabilities]: {},
        [META.clientInfo]: client,
      },
    },
  });

describe('era: _meta clientInfo as unverified.* for the rules', () => {
  it('a rule on unverified.client_name decides each stateless request by what that request says', async () => {
    const upstream = await v2HttpServer();
    const s = await httpStack(upstream, dir, { rules: [site] });
    try {
      const honest = await echo(s.url, { name: 'agent', version: '2' });
      assert.deepEqual(
        honest.body.result?.content,
        [{ type: 'text', text: 'agent' }],
        JSON.stringify(honest),
      );
      const sneaky = await echo(s.url, { name: 'sneaky-agent', version: '9' });
      assert.ok(sneaky.body.error, JSON.stringify(sneaky.body));
      assert.match(JSON.stringify(sneaky.body.error), /sneaky-agent 9 is not run here/);
      // The same session (anonymous, enforcing): the next request names itself again, and is decided so.
      const again = await echo(s.url, { name: 'agent', version: '2' });
      assert.deepEqual(again.body.result?.content, [{ type: 'text', text: 'agent' }], JSON.stringify(again));
      assert.equal(
        upstream.received.filter(
          (m) => (m.params as { arguments?: { text?: string } }).arguments?.text === 'sneaky-agent',
        ).length,
        0,
        'the denied call never went upstream',
      );
    } finally {
      await s.close();
    }
  });
});
