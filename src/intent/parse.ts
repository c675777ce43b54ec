import { IntentGuardError } from '../errors.js';
import { parseDuration } from '../lib/duration.js';
import {
  SENSITIVE_CATEGORIES,
  SENSITIVITY_LEVELS,
  type ArgConstraint,
  type Intent,
  type ResourceScope,
  type SensitiveCategory,
  type Sensitivity,
  type ToolGrant,
} from '../model/intent.js';
import { isObject } from '../jsonrpc/message.js';

const bad = (path: string, why: string): never => {
  throw new IntentGuardError('ERR_INTENT_INVALID', `intent.${path}: ${why}`, { path });
};

const strings = (v: unknown, path: string): string[] => {
  if (v === undefined) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
    return bad(path, 'must be a string or a list of strings');
  return list as string[];
};

const CONSTRAINT_KEYS = new Set(['equals', 'oneOf', 'glob', 'prefix', 'min', 'max', 'maxLength', 'required']);

function parseConstraint(v: unknown, path: string): ArgConstraint {
  if (!isObject(v)) return bad(path, 'must be an object of checks');
  for (const k of Object.keys(v))
    if (!CONSTRAINT_KEYS.has(k))
      bad(`${path}.${k}`, `unknown check (known: ${[...CONSTRAINT_KEYS].join(', ')})`);
  const num = (k: string): number | undefined => {
    if (v[k] === undefined) return undefined;
    return typeof v[k] === 'number' ? v[k] : bad(`${path}.${k}`, 'must be a number');
  };
  if (v.oneOf !== undefined && !Array.isArray(v.oneOf)) bad(`${path}.oneOf`, 'must be a list');
  if (v.required !== undefined && typeof v.required !== 'boolean')
    bad(`${path}.required`, 'must be true or false');
  const c: { -readonly [K in keyof ArgConstraint]: ArgConstraint[K] } = {};
  if ('equals' in v) c.equals = v.equals;
  if (v.oneOf !== undefined) c.oneOf = v.oneOf as unknown[];
  if (v.glob !== undefined) c.glob = strings(v.glob, `${path}.glob`);
  if (v.prefix !== undefined) c.prefix = strings(v.prefix, `${path}.prefix`);
  const min = num('min'),
    max = num('max'),
    maxLength = num('maxLength');
  if (min !== undefined) c.min = min;
  if (max !== undefined) c.max = max;
  if (maxLength !== undefined) c.maxLength = maxLength;
  if (v.required !== undefined) c.required = v.required as boolean;
  return c;
}

function parseTool(v: unknown, path: string): ToolGrant {
  if (typeof v === 'string' && v.length > 0) return { name: v };
  if (!isObject(v) || typeof v.name !== 'string' || v.name.length === 0)
    return bad(path, 'must be a tool name or {name, args}');
  if (v.args === undefined) return { name: v.name };
  if (!isObject(v.args)) return bad(`${path}.args`, 'must map argument names to checks');
  const args: Record<string, ArgConstraint> = {};
  for (const [k, c] of Object.entries(v.args)) args[k] = parseConstraint(c, `${path}.args.${k}`);
  return { name: v.name, args };
}

const RESOURCE_KEYS = new Set(['paths', 'hosts', 'sensitive']);

function parseResources(v: unknown): ResourceScope {
  if (!isObject(v)) return bad('resources', 'must be {paths?, hosts?, sensitive?}');
  for (const k of Object.keys(v))
    if (!RESOURCE_KEYS.has(k)) bad(`resources.${k}`, `unknown key (known: ${[...RESOURCE_KEYS].join(', ')})`);
  const sensitive = strings(v.sensitive, 'resources.sensitive');
  for (const c of sensitive)
    if (!SENSITIVE_CATEGORIES.includes(c as SensitiveCategory))
      bad('resources.sensitive', `unknown category "${c}" (known: ${SENSITIVE_CATEGORIES.join(', ')})`);
  const paths = v.paths === undefined ? undefined : strings(v.paths, 'resources.paths');
  const hosts = v.hosts === undefined ? undefined : strings(v.hosts, 'resources.hosts');
  if (paths?.some((p) => p.trim() === '')) bad('resources.paths', 'must not contain an empty path');
  if (hosts?.some((h) => h.trim() === '')) bad('resources.hosts', 'must not contain an empty host');
  return { ...(paths && { paths }), ...(hosts && { hosts }), sensitive: sensitive as SensitiveCategory[] };
}

/**
 * Validate a declared intent (from YAML/JSON or a grant claim) into an {@link Intent}.
 * Throws `ERR_INTENT_INVALID` naming the offending path.
 * @example parseIntent({ purpose: 'summarise notes', tools: ['read_file'] })
 */
export function parseIntent(input: unknown): Intent {
  if (!isObject(input)) return bad('', 'must be an object');
  if (typeof input.purpose !== 'string' || input.purpose.trim() === '')
    bad('purpose', 'must be a non-empty string');
  let tools: Intent['tools'];
  if (input.tools === '*') tools = '*';
  else if (Array.isArray(input.tools)) tools = input.tools.map((t, i) => parseTool(t, `tools[${i}]`));
  else tools = bad('tools', "must be a list of tools or '*'");
  const sensitivity = input.sensitivity;
  if (sensitivity !== undefined && !SENSITIVITY_LEVELS.includes(sensitivity as Sensitivity)) {
    bad('sensitivity', `must be one of ${SENSITIVITY_LEVELS.join(', ')}`);
  }
  let budget: Intent['budget'];
  if (input.budget !== undefined) {
    const b = input.budget;
    if (!isObject(b)) return bad('budget', 'must be {calls?, duration?}');
    if (b.calls !== undefined && (typeof b.calls !== 'number' || !Number.isInteger(b.calls) || b.calls < 0))
      bad('budget.calls', 'must be a non-negative integer');
    let durationMs: number | undefined;
    try {
      durationMs = b.duration === undefined ? undefined : parseDuration(b.duration as string | number);
    } catch (e) {
      bad('budget.duration', (e as Error).message);
    }
    budget = {
      ...(b.calls !== undefined && { calls: b.calls as number }),
      ...(durationMs !== undefined && { durationMs }),
    };
  }
  if (input.version !== undefined && (typeof input.version !== 'number' || !Number.isInteger(input.version)))
    bad('version', 'must be an integer');
  if (input.id !== undefined && typeof input.id !== 'string') bad('id', 'must be a string');
  if (input.statePer !== undefined && input.statePer !== 'grant' && input.statePer !== 'principal')
    bad('statePer', 'must be grant or principal');
  if (input.task !== undefined && input.task !== 'once') bad('task', 'must be once (a grant for one task)');
  if (input.visibility !== undefined && input.visibility !== 'approved' && input.visibility !== 'all')
    bad('visibility', 'must be approved (list only the approved tools) or all');
  const resources = input.resources === undefined ? undefined : parseResources(input.resources);
  return {
    ...(typeof input.id === 'string' && { id: input.id }),
    version: (input.version as number | undefined) ?? 1,
    purpose: (input.purpose as string).trim(),
    tools,
    zones: strings(input.zones, 'zones'),
    recipients: strings(input.recipients, 'recipients'),
    ...(sensitivity !== undefined && { sensitivity: sensitivity as Sensitivity }),
    ...(budget !== undefined && { budget }),
    ...(resources !== undefined && { resources }),
    ...(input.statePer !== undefined && { statePer: input.statePer as 'grant' | 'principal' }),
    ...(input.task !== undefined && { task: 'once' as const }),
    ...(input.visibility !== undefined && { visibility: input.visibility as 'approved' | 'all' }),
  };
}
