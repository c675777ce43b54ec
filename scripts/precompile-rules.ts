// Build step (after tsc, in `npm run build` and `prepare`): the shipped rule pack parsed and
// schema-checked once, written beside the compiled rules module (dist/rules/shipped-pack.json), so a
// proxy starting from dist/ neither parses the pack's YAML nor loads ajv. The loader uses it only while
// the shipped files hash to what it was made from. Usage: node --import tsx scripts/precompile-rules.ts [outDir]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { precompileRules } from '../src/rules/loader.js';
import { SHIPPED_RULES_DIR } from '../src/rules/pack.js';

const outDir = resolve(process.argv[2] ?? 'dist');
mkdirSync(join(outDir, 'rules'), { recursive: true });
writeFileSync(
  join(outDir, 'rules', 'shipped-pack.json'),
  `${JSON.stringify(precompileRules(SHIPPED_RULES_DIR))}\n`,
);
