import { existsSync } from 'node:fs';
import type { RuntimeOptions } from '../transports/runtime.js';
import { startServer } from '../transports/stdio-server.js';
import { printable } from '../lib/printable.js';
import { IntentGuardError } from '../errors.js';
import { intSetting, readConfigFile } from './config.js';
import { parseDuration } from '../lib/duration.js';
import { DEFAULT_DB } from '../store/paths.js';
import type { ProxyFlags } from './proxy-options.js';
import { chooseStore } from './store-flag.js';
import { parseStoreLocation } from '../store/location.js';

// The proxies are imported when a command runs: `intentguard stdio` loads neither HTTP nor WebSocket.
const runtimeModule = () => import('../app/runtime.js');
import { DEFAULT_MAX_SESSIONS_PER_AGENT } from '../carrier/session-quota.js';

export { addListenOptions, addProxyOptions, type ProxyFlags } from './proxy-options.js';

/**
 * The store a proxy records into: `--store` (or its older name `--db`), else `store:` (or `db:`) in
 * intentguard.yaml, else `INTENTGUARD_STORE` (or `INTENTGUARD_DB`), else ./intentguard.db. Checked at
 * once: a bad URL is `ERR_STORE_URL`.
 */
function storeSetting(
  flags: ProxyFlags,
  file: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  configPath: string | undefined,
): string {
  const fromFile = (file.store ?? file.db) as string | undefined;
  if (file.store !== undefined && file.db !== undefined && file.store !== file.db)
    throw new IntentGuardError('ERR_CONFIG', `${configPath}: store and db name different stores: give one`);
  const flag = chooseStore({ store: flags.store, db: flags.db }, {}, null);
  const chosen = flag ?? fromFile ?? env.INTENTGUARD_STORE ?? env.INTENTGUARD_DB ?? DEFAULT_DB;
  parseStoreLocation(
    chosen,
    flag !== undefined
      ? '--store'
      : fromFile !== undefined
        ? `${configPath}: store`
        : env.INTENTGUARD_STORE !== undefined
          ? 'INTENTGUARD_STORE'
          : 'INTENTGUARD_DB',
  );
  return chosen;
}

/** Merge flags, the config file and the environment into runtime options. */
export function runtimeOptions(flags: ProxyFlags, env: NodeJS.ProcessEnv = process.env): RuntimeOptions {
  const configPath = flags.config ?? (existsSync('intentguard.yaml') ? 'intentguard.yaml' : undefined);
  const file: Record<string, unknown> = configPath ? readConfigFile(configPath) : {};
  const pick = <T>(flag: T | undefined, key: string, envName?: string): T | undefined =>
    flag ?? (file[key] as T | undefined) ?? (envName ? (env[envName] as T | undefined) : undefined);
  const mode = (pick(flags.mode, 'mode', 'INTENTGUARD_MODE') ?? 'enforce') as string;
  if (mode !== 'enforce' && mode !== 'monitor')
    throw Object.assign(new Error(`--mode must be enforce or monitor, got ${mode}`), { code: 'ERR_CONFIG' });
  const jwks = pick(flags.jwks, 'jwks', 'INTENTGUARD_JWKS');
  const jwksUrl = pick(flags.jwksUrl, 'jwksUrl', 'INTENTGUARD_JWKS_URL');
  const pem = pick(flags.pem, 'pem', 'INTENTGUARD_PEM');
  const issuers =
    flags.issuer ??
    (file.issuers as string[] | undefined) ??
    (env.INTENTGUARD_ISSUER ? [env.INTENTGUARD_ISSUER] : []);
  const audience = pick(flags.audience, 'audience', 'INTENTGUARD_AUDIENCE');
  if ((jwks || jwksUrl || pem) && (!audience || issuers.length === 0)) {
    throw Object.assign(new Error('grant verification needs --audience and at least one --issuer'), {
      code: 'ERR_CONFIG',
    });
  }
  const wsPortSetting = pick<unknown>(flags.alertsWsPort, 'alertsWsPort');
  const wsPort =
    wsPortSetting === undefined ? undefined : intSetting(wsPortSetting, '--alerts-ws-port', 0, 65535);
  const alertsJsonl = pick(flags.alertsJsonl, 'alertsJsonl');
  const alertsWebhook = pick(flags.alertsWebhook, 'alertsWebhook');
  const approvalWebhook = pick(flags.approvalWebhook, 'approvalWebhook');
  const approvalUrl = pick(flags.approvalUrl, 'approvalUrl', 'INTENTGUARD_APPROVAL_URL');
  const intentFile = pick(flags.intent, 'intent', 'INTENTGUARD_INTENT');
  // URLs are checked at start: a typo would otherwise surface only when the first alert or approval is sent.
  const visibility = pick(flags.visibility, 'visibility', 'INTENTGUARD_VISIBILITY');
  if (visibility !== undefined && visibility !== 'approved' && visibility !== 'all')
    throw new IntentGuardError('ERR_CONFIG', `--visibility must be approved or all, got ${visibility}`);
  const metricsListen = metricsAddress(
    pick<unknown>(flags.metricsPort, 'metricsPort'),
    pick(flags.metricsListen, 'metricsListen'),
  );
  const consolePort = pick<unknown>(flags.consolePort, 'consolePort');
  const auditKey = pick<string>(undefined, 'auditKey', 'INTENTGUARD_AUDIT_KEY');
  if (jwksUrl) urlSetting(jwksUrl, '--jwks-url', ['http:', 'https:']);
  if (alertsWebhook) urlSetting(alertsWebhook, '--alerts-webhook', ['http:', 'https:']);
  if (approvalWebhook) urlSetting(approvalWebhook, '--approval-webhook', ['http:', 'https:']);
  if (approvalUrl) urlSetting(approvalUrl, '--approval-url', ['http:', 'https:']);
  return {
    mode,
    db: flags.record === false || file.record === false ? false : storeSetting(flags, file, env, configPath),
    ...(auditKey && { auditKey }),
    failClosedOnRecordError:
      flags.failOpenOnRecordError || file.failOpenOnRecordError === true ? false : mode === 'enforce',
    pack: flags.pack !== false && file.pack !== false,
    rules: flags.rules ?? (file.rules as string[] | undefined) ?? [],
    ...(intentFile && { intentFile }),
    ...((jwks || jwksUrl || pem) && {
      auth: {
        ...(jwks && { jwks }),
        ...(jwksUrl && { jwksUrl }),
        ...(pem && { pem }),
        alg: pick(flags.alg, 'alg') ?? 'ES256',
        issuers,
        audience: audience!,
        maxTtl: pick(flags.maxTtl, 'maxTtl') ?? '15m',
      },
    }),
    alerts: {
      ...(alertsJsonl && { jsonl: alertsJsonl }),
      ...(alertsWebhook && {
        webhook: alertsWebhook,
        webhookSecret:
          pick(flags.alertsWebhookSecret, 'alertsWebhookSecret', 'INTENTGUARD_WEBHOOK_SECRET') ?? '',
      }),
      ...(wsPort !== undefined && {
        wsPort,
        wsToken: pick(flags.alertsWsToken, 'alertsWsToken', 'INTENTGUARD_ALERTS_TOKEN') ?? '',
      }),
    },
    approvals: {
      ...(approvalWebhook && {
        webhook: approvalWebhook,
        webhookSecret:
          pick(flags.approvalWebhookSecret, 'approvalWebhookSecret', 'INTENTGUARD_APPROVAL_SECRET') ?? '',
      }),
      timeout: pick(flags.approvalTimeout, 'approvalTimeout') ?? '60s',
      cli: Boolean(flags.approveCli ?? file.approveCli),
      ...(approvalUrl && { url: approvalUrl }),
      elicitation: flags.elicitation ?? file.elicitation === true,
    },
    maxMessageBytes: intSetting(
      pick<unknown>(flags.maxMessageBytes, 'maxMessageBytes') ?? 4 * 1024 * 1024,
      '--max-message-bytes',
      1,
    ),
    allowedOrigins: flags.allowedOrigins ?? (file.allowedOrigins as string[] | undefined) ?? [],
    allowedHosts: flags.allowedHosts ?? (file.allowedHosts as string[] | undefined) ?? [],
    maxSessionsPerAgent: intSetting(
      pick<unknown>(flags.maxSessionsPerAgent, 'maxSessionsPerAgent') ?? DEFAULT_MAX_SESSIONS_PER_AGENT,
      '--max-sessions-per-agent',
      1,
    ),
    ...(visibility && { visibility }),
    ...(metricsListen && { metricsListen }),
    ...(consolePort !== undefined && {
      console: {
        port: intSetting(consolePort, '--console-port', 0, 65535),
        ...(env.INTENTGUARD_CONSOLE_TOKEN && { token: env.INTENTGUARD_CONSOLE_TOKEN }),
        ...(env.INTENTGUARD_CONSOLE_JWKS && { jwks: env.INTENTGUARD_CONSOLE_JWKS }),
      },
    }),
  };
}

/** How grants are checked, for the start-up line (jose is loaded only when grants are configured). */
const grantTolerance = async () => (await import('../identity/grant.js')).toleranceText();

/** What `intentguard stdio` says goes to stderr, escaped (as the proxy's own log). */
const stdioLog = (line: string) => process.stderr.write(`intentguard: ${printable(line)}\n`);

/** `intentguard stdio [options] -- <server command and args>`. */
export async function stdioCommand(command: string[], flags: ProxyFlags): Promise<number> {
  if (command.length === 0)
    throw Object.assign(
      new Error(
        'give the server command after --, e.g. intentguard stdio -- npx @modelcontextprotocol/server-memory',
      ),
      { code: 'ERR_CONFIG' },
    );
  const options = runtimeOptions(flags);
  const grant = flags.grant ?? process.env.INTENTGUARD_GRANT;
  if (grant && !options.auth) unverifiableGrant(options.mode);
  // The server starts first, once the settings are known to be good: its start overlaps the loading of
  // the monitor and the rules. What it and the client write waits in the pipes until the session is
  // attached; when no session can be opened, the server is stopped.
  const server = startServer({ command: command[0]!, args: command.slice(1), log: stdioLog });
  const { runtime, runStdioProxy } = await Promise.all([runtimeModule(), import('../transports/stdio.js')])
    .then(async ([{ createRuntime }, stdio]) => ({
      runStdioProxy: stdio.runStdioProxy,
      // Metrics cost a stdio proxy start-up time: kept only when asked for (--metrics-port/--metrics-listen).
      runtime: await createRuntime({
        ...options,
        localServer: true,
        metrics: options.metricsListen !== undefined,
      }),
    }))
    .catch(async (e: unknown) => {
      await server.stop();
      throw e;
    });
  try {
    return await runStdioProxy({
      command: command[0]!,
      args: command.slice(1),
      runtime,
      server,
      ...(grant && { grant }),
    });
  } finally {
    await runtime.close();
  }
}

/**
 * A grant presented (`--grant`, `INTENTGUARD_GRANT`) with no key to verify it would be ignored and the
 * session recorded as unverified. Enforcing, that is `ERR_GRANT_UNVERIFIABLE`; monitoring, a warning on
 * stderr (the session runs unverified, as learn mode watches whatever comes).
 */
function unverifiableGrant(mode: string): void {
  const text =
    'a grant was presented (--grant or INTENTGUARD_GRANT) but no key is configured to verify it: give --jwks FILE, --jwks-url URL or --pem FILE with --issuer and --audience';
  if (mode === 'enforce') throw new IntentGuardError('ERR_GRANT_UNVERIFIABLE', text);
  process.stderr.write(`intentguard: WARNING: ${text}; monitor mode: the session runs UNVERIFIED\n`);
}

/** `intentguard http --listen 127.0.0.1:PORT --upstream URL` (or `-- <stdio server command>`). Runs until SIGINT/SIGTERM. */
export async function httpCommand(
  opts: ProxyFlags & {
    listen: string;
    upstream?: string;
    path?: string;
    resource?: string;
    upstreamHeader?: string[];
    upstreamTransport?: 'streamable' | 'sse';
    messagesPath?: string;
    maxSessions?: string;
    sessionIdleTimeout?: string;
  },
  command: string[] = [],
): Promise<number> {
  if ((opts.upstream === undefined) === (command.length === 0)) {
    throw Object.assign(
      new Error(
        'give either --upstream URL or a stdio server command after --, e.g. intentguard http --listen 127.0.0.1:8080 -- npx @modelcontextprotocol/server-memory',
      ),
      { code: 'ERR_CONFIG' },
    );
  }
  const [host, port] = splitListen(opts.listen);
  if (opts.upstream !== undefined) upstreamUrl(opts.upstream, ['http:', 'https:']);
  const headers: Record<string, string> = {};
  for (const h of opts.upstreamHeader ?? []) {
    const i = h.indexOf(':');
    if (i < 1)
      throw Object.assign(new Error(`--upstream-header takes "Name: value", got "${h}"`), {
        code: 'ERR_CONFIG',
      });
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const idle = idleTimeoutSetting(opts);
  const [{ createRuntime }, { startHttpProxy }] = await Promise.all([
    runtimeModule(),
    import('../transports/http/server.js'),
  ]);
  const runtime = await createRuntime({ ...runtimeOptions(opts), localServer: command.length > 0 });
  const proxy = await closingOnFailure(runtime, () =>
    startHttpProxy({
      host,
      port,
      runtime,
      upstreamHeaders: headers,
      ...(opts.path && { path: opts.path }),
      ...(opts.resource && { resource: opts.resource }),
      ...(opts.upstream !== undefined
        ? { upstream: opts.upstream }
        : { server: { command: command[0]!, args: command.slice(1) } }),
      ...(opts.maxSessions !== undefined && {
        maxSessions: intSetting(opts.maxSessions, '--max-sessions', 1),
      }),
      ...(idle !== undefined && { idleTimeoutMs: idle }),
      ...(opts.upstreamTransport && { upstreamTransport: opts.upstreamTransport }),
      ...(opts.messagesPath && { messagesPath: opts.messagesPath }),
    }),
  );
  process.stderr.write(
    `intentguard http: ${proxy.url} -> ${opts.upstream ?? `${command.join(' ')} (stdio, a process per session)`} (${runtime.options.mode}${runtime.gate ? `, grants required: ${await grantTolerance()}` : ''})\n`,
  );
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await proxy.close();
  await runtime.close();
  return 0;
}

/**
 * `--session-idle-timeout` (or `sessionIdleTimeout` in intentguard.yaml), in milliseconds: how long an
 * HTTP session whose client sends nothing and waits for nothing stays open (a client that exits without
 * `DELETE` leaves its session behind). At least 1 s, at most a timer's 24.8 days.
 */
function idleTimeoutSetting(flags: ProxyFlags & { sessionIdleTimeout?: string }): number | undefined {
  const configPath = flags.config ?? (existsSync('intentguard.yaml') ? 'intentguard.yaml' : undefined);
  const text =
    flags.sessionIdleTimeout ??
    ((configPath ? readConfigFile(configPath) : {}).sessionIdleTimeout as string | undefined);
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms < 1000 || ms > 2 ** 31 - 1)
    throw new IntentGuardError(
      'ERR_DURATION',
      `--session-idle-timeout must be from 1s to 24d, got "${text}"`,
    );
  return ms;
}

/** `--metrics-port N` (on 127.0.0.1) or `--metrics-listen HOST:PORT` (not both). */
function metricsAddress(
  port: unknown,
  listen: string | undefined,
): { host: string; port: number } | undefined {
  if (port !== undefined && listen !== undefined)
    throw new IntentGuardError('ERR_CONFIG', 'give --metrics-port or --metrics-listen, not both');
  if (port !== undefined) return { host: '127.0.0.1', port: intSetting(port, '--metrics-port', 0, 65535) };
  if (listen === undefined) return undefined;
  const [host, p] = splitListen(listen, '--metrics-listen');
  return { host, port: p };
}

export function splitListen(listen: string, flag = '--listen'): [string, number] {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw Object.assign(new Error(`${flag} takes HOST:PORT (port 0-65535), got "${listen}"`), {
      code: 'ERR_CONFIG',
    });
  return [m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', Number(m[2])];
}

/** An upstream URL checked at start (a missing scheme would otherwise fail only at the first request). */
const upstreamUrl = (value: string, schemes: readonly string[]): URL =>
  urlSetting(value, '--upstream', schemes);

/** A URL flag or setting with one of `schemes`, else `ERR_CONFIG` naming it. */
function urlSetting(value: string, name: string, schemes: readonly string[]): URL {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || !schemes.includes(u.protocol)) {
    throw new IntentGuardError(
      'ERR_CONFIG',
      `${name} takes a ${schemes.map((p) => p.slice(0, -1)).join(' or ')} URL${name === '--upstream' ? ` (e.g. ${schemes[0]}//127.0.0.1:3000${schemes[0] === 'ws:' ? '' : '/mcp'})` : ''}, got "${value}"`,
    );
  }
  return u;
}

/** Start a listener; when it cannot start (ERR_LISTEN, ERR_CONFIG) the runtime is closed first, so nothing is left running. */
async function closingOnFailure<T>(runtime: { close(): Promise<void> }, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    await runtime.close();
    throw e;
  }
}

/** `intentguard ws --listen HOST:PORT --upstream ws://...`. Runs until SIGINT/SIGTERM. */
export async function wsCommand(
  opts: ProxyFlags & { listen: string; upstream: string; maxSessions?: string },
): Promise<number> {
  const [host, port] = splitListen(opts.listen);
  upstreamUrl(opts.upstream, ['ws:', 'wss:']);
  const [{ createRuntime }, { startWsProxy }] = await Promise.all([
    runtimeModule(),
    import('../transports/ws.js'),
  ]);
  const runtime = await createRuntime(runtimeOptions(opts));
  const proxy = await closingOnFailure(runtime, () =>
    startWsProxy({
      host,
      port,
      upstream: opts.upstream,
      runtime,
      ...(opts.maxSessions !== undefined && {
        maxSessions: intSetting(opts.maxSessions, '--max-sessions', 1),
      }),
    }),
  );
  process.stderr.write(
    `intentguard ws: ${proxy.url} -> ${opts.upstream} (${runtime.options.mode}${runtime.gate ? `, grants required: ${await grantTolerance()}` : ''})\n`,
  );
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await proxy.close();
  await runtime.close();
  return 0;
}
