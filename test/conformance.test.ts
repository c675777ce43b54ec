// The MCP conformance server suite against server-everything, directly and through `intentguard http`:
// every check must come out the same (transparency).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startHttpProxy } from '../src/transports/http/server.js';
import { createRuntime } from '../src/app/runtime.js';
import { everythingHttp } from './helpers/everything-http.js';

const run = promisify(execFile);

async function conformance(url: string): Promise<Map<string, string>> {
  const out = mkdtempSync(join(tmpdir(), 'ig-conf-'));
  await run(
    process.execPath,
    [
      '--import',
      './test/support/node20-globsync.mjs',
      'node_modules/@modelcontextprotocol/conformance/dist/index.js',
      'server',
      '--url',
      url,
      '-o',
      out,
    ],
    { timeout: 240_000 },
  ).catch((e: { code?: number }) => {
    // The suite exits non-zero when checks fail; server-everything fails some of them either way.
    if (typeof e.code !== 'number') throw e;
  });
  const results = new Map<string, string>();
  for (const d of readdirSync(out)) {
    const scenario = d.replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
    const checks = JSON.parse(readFileSync(join(out, d, 'checks.json'), 'utf8')) as {
      id: string;
      status: string;
    }[];
    checks.forEach((c, i) => results.set(`${scenario}/${i}/${c.id}`, c.status));
  }
  return results;
}

/** The suite against server-everything over its own Streamable HTTP: what every proxied run is held to. */
let directRun: Promise<Map<string, string>> | undefined;
const direct = () =>
  (directRun ??= (async () => {
    const upstream = await everythingHttp();
    try {
      return await conformance(upstream.url);
    } finally {
      upstream.stop();
    }
  })());

/**
 * The one check intentguard is meant to change: server-everything accepts a rebinding Host (FAILURE
 * directly); intentguard's front door refuses it (SUCCESS). Both sides then compare without it.
 */
const rebindingRefused = (through: Map<string, string>, direct: Map<string, string>) => {
  const key = 'server-dns-rebinding-protection/0/localhost-host-rebinding-rejected';
  assert.equal(through.get(key), 'SUCCESS', 'intentguard refuses the rebinding Host');
  through.delete(key);
  direct.delete(key);
};

const intentFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-conf-intent-'));
  writeFileSync(join(dir, 'intent.yaml'), "purpose: run the conformance suite\ntools: '*'\n");
  return join(dir, 'intent.yaml');
};

describe('conformance', () => {
  it('gives identical per-check results directly and through intentguard http', async () => {
    const upstream = await everythingHttp();
    const runtime = await createRuntime({
      mode: 'enforce',
      db: false,
      pack: true,
      rules: [],
      intentFile: intentFile(),
      log: () => undefined,
    });
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime });
    try {
      const expected = new Map(await direct());
      const proxied = await conformance(proxy.url);
      assert.ok(expected.size >= 20, `only ${expected.size} checks ran`);
      rebindingRefused(proxied, expected);
      assert.deepEqual([...proxied.entries()].sort(), [...expected.entries()].sort());
    } finally {
      await proxy.close();
      await runtime.close();
      upstream.stop();
    }
  });

  it('server-everything over stdio behind intentguard http -- <command> gives the same results as over its own HTTP', async () => {
    const runtime = await createRuntime({
      mode: 'enforce',
      db: false,
      pack: true,
      rules: [],
      intentFile: intentFile(),
      log: () => undefined,
    });
    const proxy = await startHttpProxy({
      server: {
        command: process.execPath,
        args: ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'],
      },
      runtime,
    });
    try {
      const expected = new Map(await direct());
      const bridged = await conformance(proxy.url);
      // The one informational difference: intentguard answers a POST that needs no stream with a JSON
      // body (the spec lets a server choose), so the suite's "multiple SSE streams" probe reports INFO.
      const key = 'server-server-sse-multiple-streams/1/server-sse-streams-functional';
      assert.equal(bridged.get(key), 'INFO');
      bridged.delete(key);
      expected.delete(key);
      rebindingRefused(bridged, expected);
      assert.deepEqual([...bridged.entries()].sort(), [...expected.entries()].sort());
    } finally {
      await proxy.close();
      await runtime.close();
    }
  });
});
