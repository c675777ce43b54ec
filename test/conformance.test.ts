// The MCP conformance server suite against server-everything, directly and through `intentguard http`:
// every check must come out the same (transparency).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { mintGrant } from '../src/identity/grant.js';
import { generateKeys } from '../src/identity/keys.js';
import { startHttpProxy } from '../src/transports/http/server.js';
import { createRuntime } from '../src/app/runtime.js';
import { everythingHttp } from './helpers/everything-http.js';
import { v2ConformanceServer } from './era/fixtures/v2-conformance.js';
import { enforcingRuntime } from './helpers/runtime.js';

const run = promisify(execFile);

/**
 * Run a conformance package's server suite against `url`; every check's status keyed by scenario, check
 * id and occurrence (a scenario may report one id several times, and a side may report one more).
 */
async function conformance(
  url: string,
  pkg = '@modelcontextprotocol/conformance',
  select: readonly string[] = [],
): Promise<Map<string, string>> {
  const out = mkdtempSync(join(tmpdir(), 'ig-conf-'));
  let said = '';
  await run(
    process.execPath,
    [
      '--import',
      './test/support/node20-globsync.mjs',
      `node_modules/${pkg}/dist/index.js`,
      'server',
      '--url',
      url,
      '-o',
      out,
      ...select,
    ],
    { timeout: 240_000 },
  ).catch((e: { code?: number; stdout?: string; stderr?: string }) => {
    // The suite exits non-zero when checks fail; the servers fail some of them either way.
    if (typeof e.code !== 'number') throw e;
    said = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  });
  const results = new Map<string, string>();
  for (const d of readdirSync(out)) {
    const scenario = d.replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
    if (!existsSync(join(out, d, 'checks.json')))
      throw new Error(`${scenario} reported no checks (${select.join(' ')}):\n${said.slice(-4000)}`);
    const checks = JSON.parse(readFileSync(join(out, d, 'checks.json'), 'utf8')) as {
      id: string;
      status: string;
    }[];
    const seen = new Map<string, number>();
    for (const c of checks) {
      const n = (seen.get(c.id) ?? 0) + 1;
      seen.set(c.id, n);
      results.set(`${scenario}/${c.id}#${n}`, c.status);
    }
  }
  rmSync(out, { recursive: true, force: true });
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
  const key = 'server-dns-rebinding-protection/localhost-host-rebinding-rejected#1';
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
    const runtime = await enforcingRuntime(intentFile());
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
    const runtime = await enforcingRuntime(intentFile());
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
      const key = 'server-server-sse-multiple-streams/server-sse-streams-functional#1';
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

/**
 * Each scenario of the 2026-07-28 run is one agent with a grant of its own, so the shipped pack runs
 * unchanged (IG-SRV-003, the server-input flood rule, included). The suite cannot present a grant, and
 * enforcing, anonymous stateless requests are deliberately one intentguard session (a key the client
 * chose — a correlation, a new connection — would let it shed a halt or a budget by choosing another,
 * src/stateless/key.ts): run in one go, the whole suite would be one agent asking more server inputs a
 * minute than the rule lets one session ask. So the harness runs the suite once per scenario
 * (`--scenario`), and a fronting shim adds `Authorization: Bearer <that scenario's grant>` to every
 * request of the run — each grant a distinct `jti`, verified by intentguard like any agent's. What the
 * suite sends is otherwise passed byte for byte (a Host or Origin naming the shim names intentguard
 * instead, as if the suite had been given intentguard's address; any other, such as the rebinding
 * probe's, reaches intentguard's front door as sent), and what comes back is piped unchanged (SSE
 * streams included).
 */
async function grantShim(target: string, bearer: () => string) {
  const to = new URL(target);
  let own = '';
  /** The shim's own host as the suite names it becomes intentguard's; any other (the rebinding probe's) stays. */
  const retarget = (v: string | undefined) => (v === undefined ? v : v.replace(own, `:${to.port}`));
  const server = createServer((req, res) => {
    const host = req.headers.host;
    const headers = {
      ...req.headers,
      ...(host !== undefined && /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host) && { host: retarget(host) }),
      ...(req.headers.origin !== undefined && { origin: retarget(req.headers.origin) }),
      authorization: `Bearer ${bearer()}`,
    };
    const up = httpRequest(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    // The suite closing a stream (a cancelled request) closes it upstream too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  own = `:${port}`;
  return {
    url: `http://127.0.0.1:${port}${to.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The server scenarios a revision requires, and the unscored ones it runs, from the suite's own file. */
function serverScenarios(revision: string): string[] {
  const doc = parseYaml(
    readFileSync(`node_modules/conformance-next/requirements/${revision}.yaml`, 'utf8'),
  ) as { server: string[]; not_scored?: { scenario: string; leg: string }[] };
  return [...doc.server, ...(doc.not_scored ?? []).filter((e) => e.leg === 'server').map((e) => e.scenario)];
}

const GRANT_ISS = 'https://idp.conformance.test';
const GRANT_AUD = 'https://intentguard.conformance.test/mcp';

/**
 * The other check intentguard is meant to change, in the Tasks extension's scenarios (not scored for the
 * revision, run by `--requirements` all the same): a task method naming a task intentguard never saw
 * created through it is refused (ERR_TASK_NOT_OWNED, fail closed: a task id is a bearer handle) before
 * the server can answer. The suite's probe of the removed `tasks/result` expects the server's -32601,
 * which the v2 server gives directly (SUCCESS); through intentguard it reports FAILURE.
 */
const unknownTaskRefused = (through: Map<string, string>, direct: Map<string, string>) => {
  const key = 'server-tasks-dispatch-and-envelope/sep-2663-tasks-result-removed-method-not-found#1';
  assert.equal(direct.get(key), 'SUCCESS');
  assert.equal(through.get(key), 'FAILURE', 'intentguard refuses a task it never saw created');
  through.delete(key);
  direct.delete(key);
};

describe('conformance 2026-07-28 (conformance-next)', () => {
  it('gives identical per-check results against a v2 server directly and through intentguard http (the pack unchanged, a grant per scenario)', async () => {
    const upstream = await v2ConformanceServer();
    const dir = mkdtempSync(join(tmpdir(), 'ig-conf-grants-'));
    const keys = await generateKeys();
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.publicJwks));
    const runtime = await createRuntime({
      mode: 'enforce',
      db: false,
      pack: true,
      rules: [],
      intentFile: intentFile(),
      auth: { jwks: join(dir, 'jwks.json'), issuers: [GRANT_ISS], audience: GRANT_AUD },
      log: () => undefined,
    });
    const subs = new Set<string | undefined>();
    runtime.monitor.events$.subscribe((e) => subs.add(e.identity?.sub));
    const proxy = await startHttpProxy({ upstream: upstream.url, runtime });
    let grant = '';
    const shim = await grantShim(proxy.url, () => grant);
    try {
      // The scenarios the revision requires, frozen at its release (the suite's requirements file).
      const expected = await conformance(upstream.url, 'conformance-next', ['--requirements', '2026-07-28']);
      const proxied = new Map<string, string>();
      const scenarios = serverScenarios('2026-07-28');
      for (const scenario of scenarios) {
        grant = await mintGrant({
          privateJwk: keys.privateJwk,
          iss: GRANT_ISS,
          aud: GRANT_AUD,
          sub: `agent:conformance:${scenario}`,
          ttl: '10m',
        });
        // At the revision's wire version; `--force` as `--requirements` runs the extension's scenarios.
        const select = ['--scenario', scenario, '--spec-version', '2026-07-28', '--force'];
        for (const [k, v] of await conformance(shim.url, 'conformance-next', select)) proxied.set(k, v);
      }
      assert.ok(expected.size >= 90, `only ${expected.size} checks ran`);
      // The suite names each result folder `server-<scenario>`: one run per scenario of the requirements.
      const ran = (m: Map<string, string>) => [...new Set([...m.keys()].map((k) => k.split('/')[0]))].sort();
      const required = [...new Set(scenarios.map((x) => `server-${x}`))].sort();
      assert.deepEqual(ran(expected), required);
      assert.deepEqual(ran(proxied), required);
      rebindingRefused(proxied, expected);
      unknownTaskRefused(proxied, expected);
      assert.deepEqual([...proxied.entries()].sort(), [...expected.entries()].sort());
      // Every scenario was its own agent: its requests under its own grant's subject, none anonymous.
      assert.ok(!subs.has(undefined), 'no request went through without its grant');
      for (const sub of subs) assert.match(String(sub), /^agent:conformance:/);
      assert.ok(subs.size >= scenarios.length - 2, `${subs.size} agents for ${scenarios.length} scenarios`);
    } finally {
      await shim.close();
      await proxy.close();
      await runtime.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
