// Build step after tsc (`npm run build`, and `prepare`), for a compiled CLI that starts fast:
// - the shipped rule pack parsed and schema-checked once, written beside the compiled rules module
//   (dist/rules/shipped-pack.json): a proxy starting from dist/ neither parses the pack's YAML nor loads
//   ajv. The loader uses it only while the shipped files hash to what it was made from.
// - dist/lib/rx.js and dist/lib/yaml.js replaced by one file each (esbuild) holding the parts of rxjs
//   (from its ES module build) and yaml they name: their CommonJS files, one module each, were ≈ 0.4 s
//   and 0.3 s of a stdio proxy's start on a loaded machine; a bundle loads in a tenth of that. Only
//   dist/ changes: the sources run both as installed.
// Usage: node --import tsx scripts/post-build.ts [outDir]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { precompileRules } from '../src/rules/loader.js';
import { SHIPPED_RULES_DIR } from '../src/rules/pack.js';

const outDir = resolve(process.argv[2] ?? 'dist');
mkdirSync(join(outDir, 'rules'), { recursive: true });
writeFileSync(
  join(outDir, 'rules', 'shipped-pack.json'),
  `${JSON.stringify(precompileRules(SHIPPED_RULES_DIR))}\n`,
);
// One file per library; the sources run them as installed.
const bundle = (name: string, o: { platform: 'neutral' | 'node'; conditions?: string[] }) =>
  build({
    entryPoints: [`src/lib/${name}.ts`],
    outfile: join(outDir, 'lib', `${name}.js`),
    allowOverwrite: true,
    bundle: true,
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    ...o,
    // A CommonJS library bundled as an ES module still calls require (yaml: 'process').
    ...(o.platform === 'node' && {
      banner: {
        js: "import { createRequire as __igRequire } from 'node:module'; const require = __igRequire(import.meta.url);",
      },
    }),
  });
// rxjs's exports map gives Node its CommonJS build; "es2015" picks its ES module build.
await bundle('rx', { platform: 'neutral', conditions: ['es2015'] });
// yaml's Node build, as Node runs it (warnings through process.emitWarning).
await bundle('yaml', { platform: 'node' });
// tsc's source maps were of the modules these replace.
for (const name of ['rx', 'yaml']) rmSync(join(outDir, 'lib', `${name}.js.map`), { force: true });
