import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { loadRules, precompileRules, RuleLoadError } from '../src/rules/loader.js';
import { loadRulePack, SHIPPED_RULES_DIR } from '../src/rules/pack.js';
import type { RuleSet } from '../src/rules/types.js';

const dir = mkdtempSync(join(tmpdir(), 'ig-precompiled-'));
const packFile = join(dir, 'shipped-pack.json');
writeFileSync(packFile, JSON.stringify(precompileRules(SHIPPED_RULES_DIR)));

/** What a rule set decides with, its compiled expressions aside. */
const shape = (set: RuleSet) => ({
  rules: set.rules.map((r) => [r.id, r.kind, r.action, r.enabled, r.severity, r.onError, r.message, r.file]),
  exceptions: set.rules.map((r) => r.exceptions.map((x) => x.name)),
  lists: set.lists,
  macros: Object.keys(set.macros),
  files: set.files,
  texts: set.texts,
});

/** Load the shipped pack in a fresh process; whether ajv was loaded to do it. */
function ajvLoaded(precompiledFile: string): Promise<boolean> {
  const pack = pathToFileURL(join(process.cwd(), 'src/rules/pack.ts')).href;
  const script = `import { createRequire } from 'node:module';
const { loadRulePack } = await import(${JSON.stringify(pack)});
loadRulePack([], { precompiledFile: ${JSON.stringify(precompiledFile)} });
const cache = Object.keys(createRequire(import.meta.url).cache);
console.log(cache.some((f) => f.includes('/node_modules/ajv/')));`;
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      (err, out, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out.trim() === 'true'),
    ),
  );
}

describe('the precompiled shipped pack (dist/rules/shipped-pack.json, written by the build)', () => {
  it('loads the same rules as parsing the YAML does', () => {
    assert.deepEqual(
      shape(loadRulePack([], { precompiledFile: packFile })),
      shape(loadRulePack([], { precompiledFile: join(dir, 'none.json') })),
    );
  });

  it('is used only while the files hash to what it was made from: an edited rule is read as edited', () => {
    const copy = join(dir, 'copy');
    cpSync(SHIPPED_RULES_DIR, copy, { recursive: true });
    const pre = precompileRules(copy);
    const file = join(copy, 'IG-RATE-001.yaml');
    const before = loadRules([copy], new Map([[copy, pre]])).rules.find((r) => r.id === 'IG-RATE-001')!;
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^action: \w+$/m, 'action: halt'));
    const after = loadRules([copy], new Map([[copy, pre]])).rules.find((r) => r.id === 'IG-RATE-001')!;
    assert.notEqual(before.action, 'halt');
    assert.equal(after.action, 'halt');
    // A schema error in an edited file is found and located as without a precompiled pack.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^action: \w+$/m, 'action: explode'));
    assert.throws(
      () => loadRules([copy], new Map([[copy, pre]])),
      (e: unknown) =>
        e instanceof RuleLoadError && e.code === 'ERR_RULE_SCHEMA' && e.file.endsWith('IG-RATE-001.yaml'),
    );
  });

  it('a start on it loads no schema checker; a missing or stale one falls back to checking the YAML', async () => {
    assert.equal(await ajvLoaded(packFile), false);
    assert.equal(await ajvLoaded(join(dir, 'missing.json')), true);
    const stale = join(dir, 'stale.json');
    writeFileSync(
      stale,
      JSON.stringify({ ...JSON.parse(readFileSync(packFile, 'utf8')), hash: 'not-these-files' }),
    );
    assert.equal(await ajvLoaded(stale), true);
  });
});
