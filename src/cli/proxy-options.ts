import type { Command } from 'commander';
import { DEFAULT_DB } from '../store/paths.js';
import { durationFlag } from './config.js';

// The proxy commands' options, apart from their implementation (proxy-commands.ts), so that declaring
// the CLI (and `--help`) loads neither the proxies nor the runtime.

export interface ProxyFlags {
  config?: string;
  mode?: string;
  store?: string;
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
  approvalUrl?: string;
  elicitation?: boolean;
  maxMessageBytes?: string;
  failOpenOnRecordError?: boolean;
  allowedOrigins?: string[];
  allowedHosts?: string[];
  maxSessionsPerAgent?: string;
  visibility?: string;
  metricsPort?: string;
  consolePort?: string;
  metricsListen?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The options every proxy takes (flags override intentguard.yaml, which overrides environment). */
export function addProxyOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'intentguard.yaml (default: ./intentguard.yaml when present)')
    .option('--mode <mode>', 'enforce (default) or monitor (observe and alert only)')
    .option(
      '--store <url|path>',
      `where to record: a SQLite file (default ${DEFAULT_DB}) or a postgres:// URL (env INTENTGUARD_STORE)`,
    )
    .option('--db <path>', 'the older name of --store (env INTENTGUARD_DB)')
    .option('--no-record', 'do not record sessions')
    .option(
      '--fail-open-on-record-error',
      'keep calls flowing when recording fails (default in monitor mode only)',
    )
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
    .option(
      '--max-ttl <duration>',
      'longest accepted grant lifetime, with a unit (default 15m)',
      durationFlag('--max-ttl'),
    )
    .option('--alerts-jsonl <file>', 'OCSF alerts as JSON lines to a file ("-" for stderr)')
    .option('--alerts-webhook <url>', 'OCSF alerts to a signed webhook')
    .option(
      '--alerts-webhook-secret <secret>',
      'HMAC secret for the alert webhook (env INTENTGUARD_WEBHOOK_SECRET)',
    )
    .option('--alerts-ws-port <port>', 'WebSocket alert stream for consoles')
    .option('--alerts-ws-token <token>', 'token consoles must present (env INTENTGUARD_ALERTS_TOKEN)')
    .option('--approval-webhook <url>', 're-authorization webhook')
    .option('--approval-webhook-secret <secret>', 'HMAC secret for the approval webhook')
    .option(
      '--approval-timeout <duration>',
      'no answer within this is a deny, with a unit (default 60s)',
      durationFlag('--approval-timeout'),
    )
    .option('--approve-cli', 'hold re-authorizations for `intentguard approve|deny ID` (polls the database)')
    .option(
      '--approval-url <url>',
      'the console serving this store: held 2026-07-28 calls are asked in URL mode on its /approvals/ID page (env INTENTGUARD_APPROVAL_URL; default the --console-port console)',
    )
    .option(
      '--elicitation',
      "also ask the client's user to approve a held call over MCP elicitation (off by default: an agent's own client could answer its own prompts)",
    )
    .option(
      '--no-elicitation',
      'never ask the client to approve a held call (the default; kept for compatibility)',
    )
    .option('--max-message-bytes <n>', 'largest message accepted (default 4194304, 4 MiB)')
    .option(
      '--visibility <which>',
      'approved: tools/list offers each session only its approved tools; all (default): every tool, unless the intent says approved',
    )
    .option(
      '--metrics-port <port>',
      'serve /metrics, /healthz, /readyz on 127.0.0.1:PORT (every proxy, stdio too)',
    )
    .option('--metrics-listen <host:port>', 'serve /metrics, /healthz, /readyz on HOST:PORT')
    .option(
      '--console-port <port>',
      'serve the security console on 127.0.0.1:PORT beside the traffic (login: INTENTGUARD_CONSOLE_TOKEN or INTENTGUARD_CONSOLE_JWKS)',
    );
}

/** A comma-separated list flag, repeatable: `--allowed-origins a,b --allowed-origins c`. */
const list = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

/** The front-door options of the listening proxies (http, ws). */
export function addListenOptions(cmd: Command): Command {
  return cmd
    .option(
      '--allowed-origins <origins>',
      "browser origins allowed to call, comma-separated (default: none; a request without Origin is a non-browser client's)",
      list,
    )
    .option(
      '--allowed-hosts <hosts>',
      'Host header values accepted besides the listen address (name for any port, or name:port), comma-separated',
      list,
    )
    .option(
      '--max-sessions-per-agent <n>',
      'most sessions one agent identity (grant sub) may hold open at once (default 16)',
    );
}
