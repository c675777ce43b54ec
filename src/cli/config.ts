import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';
import { IntentGuardError } from '../errors.js';
import { parseDuration } from '../lib/duration.js';

const str = { type: 'string', minLength: 1 };
const strings = { type: 'array', items: str };
const duration = { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$' };
const positive = { type: 'integer', minimum: 1 };

/**
 * `intentguard.yaml`: the proxy flags in camelCase (`--alerts-ws-port` is `alertsWsPort`), plus
 * `issuers` for the repeatable `--issuer`. Unknown keys and wrong types are errors, never ignored: a
 * misspelt key would otherwise leave a setting silently off.
 */
const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { enum: ['enforce', 'monitor'] },
    store: str,
    db: str,
    auditKey: str,
    record: { type: 'boolean' },
    failOpenOnRecordError: { type: 'boolean' },
    pack: { type: 'boolean' },
    rules: strings,
    intent: str,
    jwks: str,
    jwksUrl: str,
    pem: str,
    alg: str,
    issuers: strings,
    audience: str,
    maxTtl: duration,
    alertsJsonl: str,
    alertsWebhook: str,
    alertsWebhookSecret: str,
    alertsWsPort: { type: 'integer', minimum: 0, maximum: 65535 },
    alertsWsToken: str,
    approvalWebhook: str,
    approvalWebhookSecret: str,
    approvalTimeout: duration,
    approveCli: { type: 'boolean' },
    approvalUrl: str,
    elicitation: { type: 'boolean' },
    maxMessageBytes: positive,
    allowedOrigins: strings,
    allowedHosts: strings,
    maxSessionsPerAgent: positive,
    sessionIdleTimeout: duration,
    visibility: { enum: ['approved', 'all'] },
    metricsPort: { type: 'integer', minimum: 0, maximum: 65535 },
    consolePort: { type: 'integer', minimum: 0, maximum: 65535 },
    metricsListen: str,
  },
} as const;

export type ConfigFile = Partial<Record<keyof typeof CONFIG_SCHEMA.properties, unknown>>;

// Ajv and yaml are loaded on the first config file read, not by the CLI's flag parsers below (`--help` stays fast).
const load = createRequire(import.meta.url);
let compiled: ValidateFunction | undefined;
const validator = (): ValidateFunction =>
  (compiled ??= new (load('ajv') as typeof import('ajv')).Ajv({ allErrors: false, strict: true }).compile(
    CONFIG_SCHEMA,
  ));

/** Read and check `intentguard.yaml`; every problem is an `ERR_CONFIG` naming the file and the key. */
export function readConfigFile(file: string): ConfigFile {
  let doc: unknown;
  try {
    doc = (load('yaml') as typeof import('yaml')).parse(readFileSync(file, 'utf8')) ?? {};
  } catch (e) {
    throw new IntentGuardError('ERR_CONFIG', `${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const validate = validator();
  if (!validate(doc)) {
    const err = validate.errors![0]!;
    const where = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : '';
    const what =
      err.keyword === 'additionalProperties'
        ? `unknown setting "${(err.params as { additionalProperty: string }).additionalProperty}" (settings are the proxy flags in camelCase)`
        : `${where || 'the file'} ${err.message ?? 'is invalid'}`;
    throw new IntentGuardError('ERR_CONFIG', `${file}: ${what}`);
  }
  return doc as ConfigFile;
}

/** A flag or setting that must be a whole number in a range (a typo must not switch a limit off). */
export function intSetting(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new IntentGuardError(
      'ERR_CONFIG',
      `${name} must be a whole number from ${min} to ${max}, got ${String(value)}`,
    );
  return n;
}

const BARE_NUMBER = /^\d+(\.\d+)?$/;

/**
 * A duration flag (`--ttl 10m`): a unit is required, as in intentguard.yaml. A bare number is refused
 * (`--ttl 600` minted a grant that expired at once: milliseconds, not the seconds meant).
 * @example program.option('--ttl <duration>', 'lifetime', durationFlag('--ttl'), '10m')
 */
export const durationFlag =
  (name: string) =>
  (value: string): string => {
    const text = value.trim();
    if (BARE_NUMBER.test(text))
      throw new IntentGuardError(
        'ERR_DURATION',
        `${name} needs a unit: "${value}" (write e.g. ${text}s, ${text}m or ${text}ms)`,
      );
    try {
      parseDuration(text);
    } catch (e) {
      throw new IntentGuardError('ERR_DURATION', `${name}: ${(e as Error).message}`);
    }
    return text;
  };

/** A time flag (`--since`): an ISO time or a duration ago, with its unit; a bare number is refused. */
export const sinceFlag =
  (name: string) =>
  (value: string): string => {
    if (BARE_NUMBER.test(value.trim()))
      throw new IntentGuardError(
        'ERR_DURATION',
        `${name} takes an ISO time or a duration with a unit (24h, 30m), got "${value}"`,
      );
    return value;
  };

/** A flag limited to a few words (`approve --scope`): anything else is refused, never taken as the default. */
export const choiceFlag =
  <T extends string>(name: string, choices: readonly T[], note = '') =>
  (value: string): T => {
    if (!(choices as readonly string[]).includes(value))
      throw new IntentGuardError(
        'ERR_CONFIG',
        `${name} must be ${choices.join(' or ')}${note}, got "${value}"`,
      );
    return value as T;
  };
