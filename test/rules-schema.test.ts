// The rule schemas are checked against the JSON Schema meta-schema here, once, rather than at every
// start (the loader compiles them with validateSchema: false, src/rules/loader.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { DEFS_SCHEMA, OVERRIDE_SCHEMA, RULE_SCHEMA } from '../src/rules/schema.js';

test('the rule, defs and override schemas are valid JSON Schemas', () => {
  const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true });
  for (const [name, schema] of Object.entries({ RULE_SCHEMA, DEFS_SCHEMA, OVERRIDE_SCHEMA })) {
    assert.equal(ajv.validateSchema(schema), true, `${name}: ${ajv.errorsText(ajv.errors)}`);
  }
});

test('a schema the meta-schema refuses is caught by this check', () => {
  const ajv = new Ajv({ strict: true });
  assert.equal(ajv.validateSchema({ type: 'object', properties: { a: { type: 'no-such-type' } } }), false);
});
