import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { createRuntime, type RuntimeOptions } from '../proxy/runtime.js';
import { IntentGuardError } from '../errors.js';
import { toleranceText } from '../identity/grant.js';
import { durationFlag, intSetting, readConfigFile } from './config.js';
import { runStdioProxy } from '../proxy/stdio.js';
import { startHttpProxy } from '../proxy/http.js';
import { startWsProxy } from '../proxy/ws.js';
import { DEFAULT_DB } from '../store/db.js';
import { DEFAULT_MAX_SESSIONS_PER_AGENT } from '../proxy/session-quota.js';

export interface ProxyFlags {
  config?: string;
  mode?: string;
  db?: string;
  record?: boolean;
  pack?: boolean;
  rules?: string[];
  intent?: string;
  grant?: string;
  jwks?: string;
  jwksUrl?: string;
  pem?: string;
  alg?: string;
  issuer?: string[];
  audience?: string;
  maxTtl?: string;
  alertsJsonl?: string;
  alertsWebhook?: string;
  alertsWebhookSecret?: string;
  alertsWsPort?: string;
  alertsWsToken?: string;
  approvalWebhook?: string;
  approvalWebhookSecret?: string;
  approvalTimeout?: string;
  approveCli?: boolean;
  elicitation?: boolean;
  maxMessageBytes?: string;
  failOpenOnRecordError?: boolean;
  allowedOrigins?: string[];
  allowedHosts?: string[];
  maxSessionsPerAgent?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The options every proxy takes (flags override intentguard.yaml, which overrides environment). */
export function addProxyOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'intentguard.yaml (default: ./intentguard.yaml when present)')
    .option('--mode <mode>', 'enforce (default) or monitor (observe and alert only)')
    .option('--db <path>', `recording database (default ${DEFAULT_DB}; env INTENTGUARD_DB)`)
    .option('--no-record', 'do not record sessions')
    .option('--fail-open-on-record-error', 'keep calls flowing when recording fails (default in monitor mode only)')
    .option('--no-pack', 'only the built-in intent policy (no rule pack)')
    .option('--rules <dir>', 'site rule directory (repeatable)', collect)
    .option('--intent <file>', 'approved intent for sessions whose grant has none (or without grants)')
    .option('--grant <jwt>', 'stdio: the agent grant (env INTENTGUARD_GRANT)')
    .option('--jwks <file>', 'verify grants with this JWKS file')
    .option('--jwks-url <url>', 'verify grants with keys from this JWKS URL')
    .option('--pem <file>', 'verify grants with this PEM public key')
    .option('--alg <alg>', 'algorithm of the PEM key (default ES256)')
    .option('--issuer <iss>', 'trusted grant issuer (repeatable)', collect)
    .option('--audience <aud>', "intentguard's resource identifier (grant aud)")
    .option('--max-ttl <duration>', 'longest accepted grant lifetime, with a unit (default 15m)', durationFlag('--max-ttl'))
    .option('--alerts-jsonl <file>', 'OCSF alerts as JSON lines to a file ("-" for stderr)')
    .option('--alerts-webhook <url>', 'OCSF alerts to a signed webhook')
    .option('--alerts-webhook-secret <secret>', 'HMAC secret for the alert webhook (env INTENTGUARD_WEBHOOK_SECRET)')
    .option('--alerts-ws-port <port>', 'WebSocket alert stream for consoles')
    .option('--alerts-ws-token <token>', 'token consoles must present (env INTENTGUARD_ALERTS_TOKEN)')
    .option('--approval-webhook <url>', 're-authorization webhook')
    .option('--approval-webhook-secret <secret>', 'HMAC secret for the approval webhook')
    .option('--approval-timeout <duration>', 'no answer within this is a deny, with a unit (default 60s)', durationFlag('--approval-timeout'))
    .option('--approve-cli', 'hold re-authorizations for `intentguard approve|deny ID` (polls the database)')
    .option('--elicitation', 'also ask the client\'s user to approve a held call over MCP elicitation (off by default: an agent\'s own client could answer its own prompts)')
    .option('--no-elicitation', 'never ask the client to approve a held call (the default; kept for compatibility)')
    .option('--max-message-bytes <n>', 'largest message accepted (default 4194304, 4 MiB)');
}

/** A comma-separated list flag, repeatable: `--allowed-origins a,b --allowed-origins c`. */
const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

/** The front-door options of the listening proxies (http, ws). */
export function addListenOptions(cmd: Command): Command {
  return cmd
    .option('--allowed-origins <origins>', 'browser origins allowed to call, comma-separated (default: none; a request without Origin is a non-browser client\'s)', list)
    .option('--allowed-hosts <hosts>', 'Host header values accepted besides the listen address (name for any port, or name:port), comma-separated', list)
    .option('--max-sessions-per-agent <n>', 'most sessions one agent identity (grant sub) may hold open at once (default 16)');
}

/** Merge flags, the config file and the environment into runtime options. */
export function runtimeOptions(flags: ProxyFlags, env: NodeJS.ProcessEnv = process.env): RuntimeOptions {
  const configPath = flags.config ?? (existsSync('intentguard.yaml') ? 'intentguard.yaml' : undefined);
  const file: Record<string, unknown> = configPath ? readConfigFile(configPath) : {};
  const pick = <T>(flag: T | undefined, key: string, envName?: string): T | undefined =>
    flag ?? (file[key] as T | undefined) ?? (envName ? (env[envName] as T | undefined) : undefined);
  const mode = (pick(flags.mode, 'mode', 'INTENTGUARD_MODE') ?? 'enforce') as string;
  if (mode !== 'enforce' && mode !== 'monitor') throw Object.assign(new Error(`--mode must be enforce or monitor, got ${mode}`), { code: 'ERR_CONFIG' });
  const jwks = pick(flags.jwks, 'jwks', 'INTENTGUARD_JWKS');
  const jwksUrl = pick(flags.jwksUrl, 'jwksUrl', 'INTENTGUARD_JWKS_URL');
  const pem = pick(flags.pem, 'pem', 'INTENTGUARD_PEM');
  const issuers = flags.issuer ?? (file.issuers as string[] | undefined) ?? (env.INTENTGUARD_ISSUER ? [env.INTENTGUARD_ISSUER] : []);
  const audience = pick(flags.audience, 'audience', 'INTENTGUARD_AUDIENCE');
  if ((jwks || jwksUrl || pem) && (!audience || issuers.length === 0)) {
    throw Object.assign(new Error('grant verification needs --audience and at least one --issuer'), { code: 'ERR_CONFIG' });
  }
  const wsPortSetting = pick<unknown>(flags.alertsWsPort, 'alertsWsPort');
  const wsPort = wsPortSetting === undefined ? undefined : intSetting(wsPortSetting, '--alerts-ws-port', 0, 65535);
  const alertsJsonl = pick(flags.alertsJsonl, 'alertsJsonl');
  const alertsWebhook = pick(flags.alertsWebhook, 'alertsWebhook');
  const approvalWebhook = pick(flags.approvalWebhook, 'approvalWebhook');
  const intentFile = pick(flags.intent, 'intent', 'INTENTGUARD_INTENT');
  // URLs are checked at start: a typo would otherwise surface only when the first alert or approval is sent.
  if (jwksUrl) urlSetting(jwksUrl, '--jwks-url', ['http:', 'https:']);
  if (alertsWebhook) urlSetting(alertsWebhook, '--alerts-webhook', ['http:', 'https:']);
  if (approvalWebhook) urlSetting(approvalWebhook, '--approval-webhook', ['http:', 'https:']);
  return {
    mode,
    db: flags.record === false || file.record === false ? false : (pick(flags.db, 'db', 'INTENTGUARD_DB') ?? DEFAULT_DB),
    failClosedOnRecordError: flags.failOpenOnRecordError || file.failOpenOnRecordError === true ? false : mode === 'enforce',
    pack: flags.pack !== false && file.pack !== false,
    rules: flags.rules ?? (file.rules as string[] | undefined) ?? [],
    ...(intentFile && { intentFile }),
    ...((jwks || jwksUrl || pem) && {
      auth: {
        ...(jwks && { jwks }), ...(jwksUrl && { jwksUrl }), ...(pem && { pem }), alg: pick(flags.alg, 'alg') ?? 'ES256',
        issuers, audience: audience!, maxTtl: pick(flags.maxTtl, 'maxTtl') ?? '15m',
      },
    }),
    alerts: {
      ...(alertsJsonl && { jsonl: alertsJsonl }),
      ...(alertsWebhook && { webhook: alertsWebhook, webhookSecret: pick(flags.alertsWebhookSecret, 'alertsWebhookSecret', 'INTENTGUARD_WEBHOOK_SECRET') ?? '' }),
      ...(wsPort !== undefined && { wsPort, wsToken: pick(flags.alertsWsToken, 'alertsWsToken', 'INTENTGUARD_ALERTS_TOKEN') ?? '' }),
    },
    approvals: {
      ...(approvalWebhook && { webhook: approvalWebhook, webhookSecret: pick(flags.approvalWebhookSecret, 'approvalWebhookSecret', 'INTENTGUARD_APPROVAL_SECRET') ?? '' }),
      timeout: pick(flags.approvalTimeout, 'approvalTimeout') ?? '60s',
      cli: Boolean(flags.approveCli ?? file.approveCli),
      elicitation: flags.elicitation ?? file.elicitation === true,
    },
    maxMessageBytes: intSetting(pick<unknown>(flags.maxMessageBytes, 'maxMessageBytes') ?? 4 * 1024 * 1024, '--max-message-bytes', 1),
    allowedOrigins: flags.allowedOrigins ?? (file.allowedOrigins as string[] | undefined) ?? [],
    allowedHosts: flags.allowedHosts ?? (file.allowedHosts as string[] | undefined) ?? [],
    maxSessionsPerAgent: intSetting(pick<unknown>(flags.maxSessionsPerAgent, 'maxSessionsPerAgent') ?? DEFAULT_MAX_SESSIONS_PER_AGENT, '--max-sessions-per-agent', 1),
  };
}

/** `intentguard stdio [options] -- <server command and args>`. */
export async function stdioCommand(command: string[], flags: ProxyFlags): Promise<number> {
  if (command.length === 0) throw Object.assign(new Error('give the server command after --, e.g. intentguard stdio -- npx @modelcontextprotocol/server-memory'), { code: 'ERR_CONFIG' });
  const runtime = await createRuntime({ ...runtimeOptions(flags), localServer: true });
  try {
    const grant = flags.grant ?? process.env.INTENTGUARD_GRANT;
    return await runStdioProxy({ command: command[0]!, args: command.slice(1), runtime, ...(grant && { grant }) });
  } finally {
    await runtime.close();
  }
}

/** `intentguard http --listen 127.0.0.1:PORT --upstream URL` (or `-- <stdio server command>`). Runs until SIGINT/SIGTERM. */
export async function httpCommand(opts: ProxyFlags & { listen: string; upstream?: string; path?: string; resource?: string; upstreamHeader?: string[]; upstreamTransport?: 'streamable' | 'sse'; messagesPath?: string; maxSessions?: string }, command: string[] = []): Promise<number> {
  if ((opts.upstream === undefined) === (command.length === 0)) {
    throw Object.assign(new Error('give either --upstream URL or a stdio server command after --, e.g. intentguard http --listen 127.0.0.1:8080 -- npx @modelcontextprotocol/server-memory'), { code: 'ERR_CONFIG' });
  }
  const [host, port] = splitListen(opts.listen);
  if (opts.upstream !== undefined) upstreamUrl(opts.upstream, ['http:', 'https:']);
  const headers: Record<string, string> = {};
  for (const h of opts.upstreamHeader ?? []) {
    const i = h.indexOf(':');
    if (i < 1) throw Object.assign(new Error(`--upstream-header takes "Name: value", got "${h}"`), { code: 'ERR_CONFIG' });
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const runtime = await createRuntime({ ...runtimeOptions(opts), localServer: command.length > 0 });
  const proxy = await closingOnFailure(runtime, () => startHttpProxy({
    host, port, runtime, upstreamHeaders: headers, ...(opts.path && { path: opts.path }), ...(opts.resource && { resource: opts.resource }),
    ...(opts.upstream !== undefined ? { upstream: opts.upstream } : { server: { command: command[0]!, args: command.slice(1) } }),
    ...(opts.maxSessions !== undefined && { maxSessions: intSetting(opts.maxSessions, '--max-sessions', 1) }),
    ...(opts.upstreamTransport && { upstreamTransport: opts.upstreamTransport }), ...(opts.messagesPath && { messagesPath: opts.messagesPath }),
  }));
  process.stderr.write(`intentguard http: ${proxy.url} -> ${opts.upstream ?? `${command.join(' ')} (stdio, a process per session)`} (${runtime.options.mode}${runtime.gate ? `, grants required: ${toleranceText()}` : ''})\n`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await proxy.close();
  await runtime.close();
  return 0;
}

export function splitListen(listen: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw Object.assign(new Error(`--listen takes HOST:PORT (port 0-65535), got "${listen}"`), { code: 'ERR_CONFIG' });
  return [m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', Number(m[2])];
}

/** An upstream URL checked at start (a missing scheme would otherwise fail only at the first request). */
const upstreamUrl = (value: string, schemes: readonly string[]): URL => urlSetting(value, '--upstream', schemes);

/** A URL flag or setting with one of `schemes`, else `ERR_CONFIG` naming it. */
function urlSetting(value: string, name: string, schemes: readonly string[]): URL {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || !schemes.includes(u.protocol)) {
    throw new IntentGuardError('ERR_CONFIG', `${name} takes a ${schemes.map((p) => p.slice(0, -1)).join(' or ')} URL${name === '--upstream' ? ` (e.g. ${schemes[0]}//127.0.0.1:3000${schemes[0] === 'ws:' ? '' : '/mcp'})` : ''}, got "${value}"`);
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
export async function wsCommand(opts: ProxyFlags & { listen: string; upstream: string; maxSessions?: string }): Promise<number> {
  const [host, port] = splitListen(opts.listen);
  upstreamUrl(opts.upstream, ['ws:', 'wss:']);
  const runtime = await createRuntime(runtimeOptions(opts));
  const proxy = await closingOnFailure(runtime, () => startWsProxy({ host, port, upstream: opts.upstream, runtime, ...(opts.maxSessions !== undefined && { maxSessions: intSetting(opts.maxSessions, '--max-sessions', 1) }) }));
  process.stderr.write(`intentguard ws: ${proxy.url} -> ${opts.upstream} (${runtime.options.mode}${runtime.gate ? `, grants required: ${toleranceText()}` : ''})\n`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await proxy.close();
  await runtime.close();
  return 0;
}
