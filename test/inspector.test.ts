// A real third-party client, @modelcontextprotocol/inspector-cli, drives the proxies.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startHttpProxy } from '../src/transports/http/server.js';
import { everythingHttp } from './helpers/everything-http.js';
import { enforcingRuntime } from './helpers/runtime.js';

const exec = promisify(execFile);
const root = resolve('.');
// The inspector looks for its package.json at ../package.json relative to the working directory.
const cwd = join(root, 'node_modules/@modelcontextprotocol/inspector-cli/build');
const inspector = (args: string[]) =>
  exec(process.execPath, ['index.js', ...args], { cwd, timeout: 60_000 }).catch(
    (e: { stdout: string; stderr: string }) => e,
  );
const dir = mkdtempSync(join(tmpdir(), 'ig-insp-'));
writeFileSync(join(dir, 'intent.yaml'), 'purpose: echo things\ntools: [echo]\n');
const everything = join(root, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const proxyCmd = [
  process.execPath,
  join(root, 'bin/intentguard.js'),
  'stdio',
  '--intent',
  join(dir, 'intent.yaml'),
  '--db',
  join(dir, 'i.db'),
];

describe('inspector-cli through the proxies', () => {
  it("lists and calls tools through intentguard stdio; a denied call shows intentguard's error", async () => {
    const list = await inspector([
      '--method',
      'tools/list',
      ...proxyCmd,
      '--',
      '--',
      process.execPath,
      everything,
      'stdio',
    ]);
    assert.match(list.stdout, /"name": "echo"/);
    const call = await inspector([
      '--method',
      'tools/call',
      '--tool-name',
      'echo',
      ...proxyCmd,
      '--tool-arg',
      'message=inspected',
      '--',
      '--',
      process.execPath,
      everything,
      'stdio',
    ]);
    assert.match(call.stdout, /Echo: inspected/);
    const denied = await inspector([
      '--method',
      'tools/call',
      '--tool-name',
      'toggle-simulated-logging',
      ...proxyCmd,
      '--',
      '--',
      process.execPath,
      everything,
      'stdio',
    ]);
    assert.match(
      denied.stdout + denied.stderr,
      /-31080: intentguard: toggle-simulated-logging .* outside the approved tools/,
    );
  });

  /** List, call, and be refused through an intentguard http URL. */
  const overHttp = async (url: string) => {
    const list = await inspector(['--method', 'tools/list', url]);
    assert.match(list.stdout, /"name": "echo"/);
    const call = await inspector([
      '--method',
      'tools/call',
      '--tool-name',
      'echo',
      url,
      '--tool-arg',
      'message=over-http',
    ]);
    assert.match(call.stdout, /Echo: over-http/);
    const denied = await inspector([
      '--method',
      'tools/call',
      '--tool-name',
      'toggle-subscriber-updates',
      url,
    ]);
    assert.match(
      denied.stdout + denied.stderr,
      /intentguard: toggle-subscriber-updates .* outside the approved tools/,
    );
  };

  it('lists and calls tools through intentguard http', async () => {
    const upstream = await everythingHttp();
    const runtime = await enforcingRuntime(join(dir, 'intent.yaml'));
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime });
    try {
      await overHttp(proxy.url);
    } finally {
      await proxy.close();
      await runtime.close();
      upstream.stop();
    }
  });

  it('lists and calls tools through intentguard http in front of a stdio server', async () => {
    const runtime = await enforcingRuntime(join(dir, 'intent.yaml'));
    const proxy = await startHttpProxy({
      server: { command: process.execPath, args: [everything, 'stdio'] },
      runtime,
    });
    try {
      await overHttp(proxy.url);
    } finally {
      await proxy.close();
      await runtime.close();
    }
  });
});
