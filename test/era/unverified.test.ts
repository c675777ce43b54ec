// What a 2026-07-28 client says about itself in each request's `_meta` (clientInfo, the protocol
// version) is what the rules read as `unverified.*` (issue 15: "recorded per request as unverified.*"):
// there is no initialize to read it from. A site rule on `unverified.client_name` decides a stateless
// request through `intentguard http`, request by request. And a site sequence rule matches across
// stateless requests on separate connections (the session, not the connection, holds its state).
// Real SDK v2 server.
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

writeFileSync(
  join(site, 'SITE-SEQ-001.yaml'),
  [
    'id: SITE-SEQ-001',
    'title: arm, then fire',
    'description: an echo of "arm" followed within the window by an echo of "fire" is denied',
    'severity: high',
    'sequence:',
    '  within: 10m',
    '  steps:',
    '    - as: armed',
    '      on: tool_call',
    '      when: call.tool == "echo" && call.args.text == "arm"',
    '    - as: fired',
    '      on: tool_call',
    '      when: call.tool == "echo" && call.args.text == "fire"',
    'action: deny',
    'message: "fire after arm"',
    '',
  ].join('\n'),
);

let n = 0;
/** One stateless echo from a client naming itself `client` (on a connection of its own with `close`). */
const echo = (
  url: string,
  client: { name: string; version: string },
  text = client.name,
  headers: Record<string, string> = {},
) =>
  postV2<Answer['body']>(
    url,
    {
      id: `c${n++}`,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { text },
        _meta: {
          [META.protocolVersion]: '2026-07-28',
          [META.clientCapabilities]: {},
          [META.clientInfo]: client,
        },
      },
    },
    headers,
  );

describe('era: site rules over stateless requests (_meta clientInfo as unverified.*, sequences)', () => {
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
  it('a sequence rule matches across stateless requests on separate connections', async () => {
    const upstream = await v2HttpServer();
    const s = await httpStack(upstream, dir, { rules: [site] });
    const agent = { name: 'agent', version: '2' };
    const close = { connection: 'close' };
    try {
      assert.equal(
        (await echo(s.url, agent, 'fire', close)).body.result?.resultType,
        'complete',
        'fire alone passes',
      );
      assert.equal((await echo(s.url, agent, 'arm', close)).body.result?.resultType, 'complete');
      const fired = await echo(s.url, agent, 'fire', close);
      assert.match(JSON.stringify(fired.body.error), /fire after arm/, JSON.stringify(fired.body));
      assert.equal(
        upstream.received.filter(
          (m) => (m.params as { arguments?: { text?: string } }).arguments?.text === 'fire',
        ).length,
        1,
        'only the first fire ran',
      );
    } finally {
      await s.close();
    }
  });
});
