import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIntent } from '../src/index.js';
import { compileToolGrants, resolvedLocation } from '../src/intent/constraints.js';

const grants = compileToolGrants(
  parseIntent({
    purpose: 'work on the project',
    tools: [
      { name: 'read_file', args: { path: { prefix: ['/srv/project/'] } } },
      { name: 'write_file', args: { path: { glob: ['/srv/project/**'] } } },
      { name: 'fetch', args: { url: { prefix: ['https://api.example.com'] } } },
      { name: 'open', args: { path: { prefix: ['/srv/project'] } } },
    ],
  }),
);
const allowed = (tool: string, args: Record<string, unknown>) => grants.check(tool, args).length === 0;

describe('argument constraints hold against path and URL tricks', () => {
  it('paths are resolved before prefix and glob checks: .., ., doubled separators, backslashes, percent-encoded dots', () => {
    for (const escape of [
      '/srv/project/../secret',
      '/srv/project/sub/../../etc/passwd',
      '/srv/project//../x',
      '/srv/project/%2e%2e/x',
      '/srv/project/%2E%2E%2Fx',
      '/srv/project\\..\\x',
    ]) {
      assert.ok(!allowed('read_file', { path: escape }), `prefix: ${escape}`);
      assert.ok(!allowed('write_file', { path: escape }), `glob: ${escape}`);
    }
    assert.match(
      grants.check('read_file', { path: '/srv/project/../secret' })[0]!,
      /resolves to "\/srv\/secret"/,
    );
    for (const inside of ['/srv/project/notes.md', '/srv/project/./notes.md', '/srv/project/a/../notes.md']) {
      assert.ok(allowed('read_file', { path: inside }), `prefix: ${inside}`);
      assert.ok(allowed('write_file', { path: inside }), `glob: ${inside}`);
    }
  });

  it('a path or URL prefix ends at a segment boundary: no sibling directory, no look-alike host, no user-info trick', () => {
    assert.ok(allowed('open', { path: '/srv/project/x' }));
    assert.ok(allowed('open', { path: '/srv/project' }));
    assert.ok(!allowed('open', { path: '/srv/project-secrets/x' }));
    assert.ok(allowed('fetch', { url: 'https://api.example.com/v1/items' }));
    assert.ok(allowed('fetch', { url: 'https://API.example.com/v1' }), 'hosts compare case-insensitively');
    for (const trick of [
      'https://api.example.com.evil.test/',
      'https://api.example.com@evil.test/',
      'https://api.example.comx/',
    ]) {
      assert.ok(!allowed('fetch', { url: trick }), trick);
    }
  });

  it('resolvedLocation leaves plain values alone', () => {
    assert.equal(resolvedLocation('hello world'), 'hello world');
    assert.equal(resolvedLocation('notes.md'), 'notes.md');
    assert.equal(resolvedLocation('a/./b/../c'), 'a/c');
  });
});
