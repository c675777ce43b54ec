import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, importJWK } from 'jose';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { generateKeys, type GeneratedKeys } from '../../src/identity/keys.js';
import { openStore, type Store } from '../../src/store/db.js';
import { startConsole, type ConsoleOptions, type ConsoleServer } from '../../src/console/server.js';

/** An OIDC-like identity provider for tests: a real ES256 key pair, its JWKS on disk, JWTs with roles. */
export interface IdP {
  readonly jwksFile: string;
  readonly keys: GeneratedKeys;
  jwt(sub: string, claims?: Record<string, unknown>, ttlSeconds?: number): Promise<string>;
}

export async function createIdp(dir: string): Promise<IdP> {
  const keys = await generateKeys('ES256');
  const jwksFile = join(dir, `idp-${keys.kid.slice(0, 8)}.jwks.json`);
  writeFileSync(jwksFile, JSON.stringify(keys.publicJwks));
  const key = await importJWK(keys.privateJwk, 'ES256');
  return {
    jwksFile,
    keys,
    jwt: (sub, claims = {}, ttl = 600) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
        .sign(key),
  };
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A fresh database (created and migrated) with a console in front of it. */
export async function consoleOn(extra: Partial<ConsoleOptions> = {}): Promise<{
  dir: string;
  db: string;
  store: Store;
  idp: IdP;
  console: ConsoleServer;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-console-'));
  const db = join(dir, 'console.db');
  const store = openStore(db);
  const idp = await createIdp(dir);
  const c = await startConsole({ store, port: 0, token: ADMIN_TOKEN, jwks: idp.jwksFile, ...extra });
  return {
    dir,
    db,
    store,
    idp,
    console: c,
    async close() {
      await c.close();
      store.close();
    },
  };
}

/** `intentguard stdio` (the real CLI) in front of the demo filesystem server, driven by a real SDK client. */
export async function proxiedClient(o: {
  db: string;
  dir: string;
  intent: string;
  extra?: string[];
  grant?: string;
  env?: Record<string, string>;
}): Promise<{ client: Client; folder: string; stderr: () => string; close(): Promise<void> }> {
  const intentFile = join(o.dir, `intent-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(intentFile, o.intent);
  const folder = mkdtempSync(join(o.dir, 'files-'));
  writeFileSync(join(folder, 'notes.md'), 'meeting at 10\n');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      'bin/intentguard.js',
      'stdio',
      '--intent',
      intentFile,
      '--db',
      o.db,
      '--approve-cli',
      '--approval-timeout',
      '120s',
      ...(o.extra ?? []),
      ...(o.grant ? ['--grant', o.grant] : []),
      '--',
      process.execPath,
      'bin/intentguard.js',
      'demo-server',
      folder,
    ],
    stderr: 'pipe',
    cwd: process.cwd(),
    ...(o.env && { env: { ...(process.env as Record<string, string>), ...o.env } }),
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c));
  const client = new Client({ name: 'console-test-agent', version: '1' });
  await client.connect(transport);
  return { client, folder, stderr: () => stderr, close: () => client.close() };
}

/** An HTTP request to the console (fetch), with an optional bearer credential. */
export function api(
  c: ConsoleServer,
  path: string,
  init: { method?: string; bearer?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${c.url}${path}`, {
    method: init.method ?? 'GET',
    redirect: 'manual',
    headers: {
      ...(init.bearer && { authorization: `Bearer ${init.bearer}` }),
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
}

/** A JSON response body, read field by field under `assert` (the assertions are the type check). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are asserted on, not trusted
export type Json = any;

/** Poll the console's API until a pending approval for `tool` is listed; returns it. */
export async function pendingFor(c: ConsoleServer, tool: string): Promise<Json> {
  for (;;) {
    const j = (await (await api(c, '/api/approvals?state=pending', { bearer: ADMIN_TOKEN })).json()) as Json;
    const found = j.approvals.find((p: Json) => p.tool === tool);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}
