import { ACTIONS, SEVERITIES } from '../model/policy.js';
import { EVENT_KINDS } from './types.js';

const on = { oneOf: [{ enum: EVENT_KINDS }, { type: 'array', items: { enum: EVENT_KINDS }, minItems: 1 }] };
const expr = { type: 'string', minLength: 1 };
const duration = { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$' };

/** JSON Schema of one rule document (validated with ajv; unknown keys are errors). */
export const RULE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'description', 'severity', 'action'],
  properties: {
    id: { type: 'string', pattern: '^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$' },
    title: { type: 'string', minLength: 3 },
    description: { type: 'string', minLength: 10 },
    severity: { enum: SEVERITIES },
    status: { enum: ['experimental', 'test', 'stable', 'deprecated'] },
    enabled: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    references: {
      type: 'object', additionalProperties: false,
      properties: { owasp_agentic: { type: 'array', items: { type: 'string' } }, maestro: { type: 'array', items: { type: 'string' } }, nist_ai_rmf: { type: 'array', items: { type: 'string' } } },
    },
    match: { type: 'object', additionalProperties: false, required: ['on', 'when'], properties: { on, when: expr } },
    sequence: {
      type: 'object', additionalProperties: false, required: ['within', 'steps'],
      properties: {
        within: duration,
        max_pending: { type: 'integer', minimum: 1, maximum: 64 },
        steps: {
          type: 'array', minItems: 2, maxItems: 8,
          items: { type: 'object', additionalProperties: false, required: ['as', 'on'], properties: { as: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' }, on, when: expr } },
        },
      },
    },
    flow: {
      type: 'object', additionalProperties: false, required: ['within', 'from', 'to'],
      properties: {
        within: duration,
        from: { type: 'object', additionalProperties: false, required: ['on'], properties: { on, when: expr } },
        to: { type: 'object', additionalProperties: false, required: ['on'], properties: { on, when: expr } },
      },
    },
    rate: {
      type: 'object', additionalProperties: false, required: ['on', 'threshold', 'within'],
      properties: { on, when: expr, threshold: { type: 'integer', minimum: 2 }, within: duration },
    },
    exceptions: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['name', 'when'], properties: { name: { type: 'string' }, when: expr } },
    },
    action: { enum: ACTIONS.filter((a) => a !== 'allow') },
    on_error: { enum: ['fail_closed', 'skip'] },
    message: { type: 'string' },
    redact: { type: 'array', items: { type: 'string' } },
  },
  oneOf: [{ required: ['match'] }, { required: ['sequence'] }, { required: ['flow'] }, { required: ['rate'] }],
} as const;

/** Shared lists and macros (`lists:` and `macros:` documents). */
export const DEFS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    lists: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    macros: { type: 'object', additionalProperties: expr },
  },
} as const;

/** Site overrides of shipped rules (`override: ID`). */
export const OVERRIDE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['override'],
  properties: {
    override: { type: 'string' },
    enabled: { type: 'boolean' },
    action: { enum: ACTIONS.filter((a) => a !== 'allow') },
    severity: { enum: SEVERITIES },
    on_error: { enum: ['fail_closed', 'skip'] },
    unsafe_override: { type: 'boolean' },
    append_exceptions: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['name', 'when'], properties: { name: { type: 'string' }, when: expr } },
    },
    append_lists: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
  },
} as const;
