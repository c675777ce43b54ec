import { existsSync } from 'node:fs';
import { basename, join, relative, isAbsolute } from 'node:path';
import { IntentGuardError } from '../errors.js';
import { coverageGaps, loadFixtures, runFixtures } from '../replay/fixtures.js';
import { SHIPPED_RULES_DIR, loadRulePack } from '../rules/pack.js';
import type { RuleSet } from '../rules/types.js';
import { VOCABULARY } from '../rules/vocabulary.js';

const dirsOf = (dirs: readonly string[]) => (dirs.length ? dirs : [SHIPPED_RULES_DIR]);

/** `intentguard rules test [DIR...]`: run every fixture and the coverage gate. Returns the exit code. */
export async function rulesTestCommand(
  dirs: readonly string[],
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const set = loadRulePack(dirs);
  const fixtures = loadFixtures([SHIPPED_RULES_DIR, ...dirs]);
  const results = await runFixtures(set, fixtures);
  for (const r of results)
    out.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.rule} — ${r.name}${r.problem ? `\n     ${r.problem}` : ''}\n`);
  const gaps = coverageGaps(set, fixtures);
  for (const g of gaps) out.write(`GAP  ${g}\n`);
  const failed = results.filter((r) => !r.ok).length;
  out.write(
    `\n${results.length - failed} passed, ${failed} failed; ${set.rules.length} rules, ${gaps.length} coverage gaps\n`,
  );
  return failed > 0 || gaps.length > 0 ? 1 : 0;
}

/** Is this rule file part of the shipped pack (rules/), rather than a site directory? */
const shipped = (file: string): boolean => {
  const r = relative(SHIPPED_RULES_DIR, file);
  return r !== '' && !r.startsWith('..') && !isAbsolute(r);
};

/**
 * Problems a rule set can load with but should not ship with, and warnings: a site rule without
 * framework `references` is a warning (a site need not map its own rules to OWASP/MAESTRO/NIST), a
 * shipped one an error.
 */
export function lintRuleSet(set: RuleSet, warnings: string[] = []): string[] {
  const problems: string[] = [];
  for (const rule of set.rules) {
    if (basename(rule.file).replace(/\.ya?ml$/, '') !== rule.id)
      problems.push(`${rule.file}: file name should be ${rule.id}.yaml`);
    if (!Object.values(rule.references).some((r) => r.length > 0))
      (shipped(rule.file) ? problems : warnings).push(
        `${rule.id}: no references (OWASP Agentic / MAESTRO / NIST AI RMF)`,
      );
    const steps = rule.kind === 'sequence' ? rule.steps.map((s) => s.as) : [];
    for (const m of rule.message.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)) {
      const path = m[1]!;
      const [root, ...rest] = path.split('.');
      const field = steps.includes(root!) ? rest.join('.') : path;
      const known =
        field in VOCABULARY ||
        Object.keys(VOCABULARY).some((k) => k.startsWith(`${field}.`) || field.startsWith(`${k}.`));
      if (!known) problems.push(`${rule.id}: message references unknown field {{${path}}}`);
    }
    if (rule.status === 'deprecated' && rule.enabled) problems.push(`${rule.id}: deprecated but enabled`);
    if (rule.onError === 'skip' && rule.action !== 'alert')
      problems.push(`${rule.id}: enforcing rule with on_error: skip (fails open)`);
  }
  return problems;
}

/** `intentguard rules lint [DIR...]`: load (which checks syntax, schema, fields, functions, regexes) and lint. */
export function rulesLintCommand(
  dirs: readonly string[],
  out: NodeJS.WritableStream = process.stdout,
): number {
  let set: RuleSet;
  try {
    set = loadRulePack(dirs);
  } catch (e) {
    if (e instanceof IntentGuardError) {
      out.write(`${e.message.includes(e.code) ? '' : `${e.code}: `}${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const warnings: string[] = [];
  const problems = lintRuleSet(set, warnings);
  for (const d of dirsOf(dirs)) {
    for (const rule of set.rules) {
      if (rule.file.startsWith(d) && !existsSync(join(d, 'tests', `${rule.id}.yaml`)))
        problems.push(`${rule.id}: no fixture file tests/${rule.id}.yaml`);
    }
  }
  for (const p of problems) out.write(`${p}\n`);
  for (const w of warnings) out.write(`warning: ${w}\n`);
  out.write(
    `${set.rules.length} rules from ${set.files.length} files: ${problems.length} problems${warnings.length ? `, ${warnings.length} warnings` : ''}\n`,
  );
  return problems.length > 0 ? 1 : 0;
}
