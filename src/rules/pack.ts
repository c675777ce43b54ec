import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IntentGuardError } from '../errors.js';
import type { PathResolver } from '../intent/real-path.js';
import { createGrantScopes } from '../policy/grant-scope.js';
import { intentPolicy } from '../policy/intent-policy.js';
import type { AnyPolicy } from '../model/policy.js';
import { rulesPolicy, type RulesPolicyOptions } from './engine.js';
import { loadRules, type PrecompiledRules } from './loader.js';
import type { RuleSet } from './types.js';

/** The shipped rule pack directory (`rules/` at the package root). */
export const SHIPPED_RULES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules');

/**
 * The shipped pack parsed and schema-checked at build time (`npm run build` writes it beside the compiled
 * module: scripts/post-build.ts), so a proxy's start neither parses its YAML nor loads ajv. Used
 * only while the shipped files are the ones it was made from (see `PrecompiledRules`); from the sources
 * (tsx) there is none.
 */
const PRECOMPILED_PACK_FILE = join(dirname(fileURLToPath(import.meta.url)), 'shipped-pack.json');

/** A precompiled pack file, or undefined when it is missing or not one (then the pack is parsed). */
function readPrecompiled(file: string): PrecompiledRules | undefined {
  try {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Partial<PrecompiledRules>;
    return typeof p.hash === 'string' && p.values && typeof p.values === 'object' ? (p as PrecompiledRules) : undefined;
  } catch {
    return undefined;
  }
}

/** Load the shipped pack followed by site directories (overrides and extra rules). */
export function loadRulePack(
  siteDirs: readonly string[] = [],
  options: { shipped?: boolean; precompiledFile?: string } = {},
): RuleSet {
  const dirs = [...(options.shipped === false ? [] : [SHIPPED_RULES_DIR]), ...siteDirs.filter((d) => d !== SHIPPED_RULES_DIR)];
  for (const d of dirs) if (!existsSync(d)) throw new IntentGuardError('ERR_FILE', `rules directory not found: ${d}`);
  const pre = options.shipped === false ? undefined : readPrecompiled(options.precompiledFile ?? PRECOMPILED_PACK_FILE);
  return loadRules(dirs, new Map(pre ? [[SHIPPED_RULES_DIR, pre]] : []));
}

/**
 * The policies a monitor runs with a rule pack: the built-in intent policy for argument constraints
 * and budgets (tool allow-listing is left to IG-INT-001/002), and the rules engine.
 */
export function packPolicies(set: RuleSet, options: RulesPolicyOptions & { readonly pathResolver?: PathResolver } = {}): AnyPolicy[] {
  // Both keep per-grant state (budgets; provenance) in one registry.
  const { pathResolver, ...rest } = options;
  const grantScopes = options.grantScopes ?? createGrantScopes();
  // The pack's budget rules halt a session's own overrun: the intent policy then reports only what a
  // grant's other sessions add, so one overrun raises one alert.
  const packBudget = ['IG-BUD-001', 'IG-BUD-002'].every((id) =>
    set.rules.some((r) => r.id === id && r.enabled && r.action === 'halt'),
  );
  return [
    intentPolicy({
      outsideTools: 'allow',
      grantScopes,
      ...(packBudget && { sessionBudget: false }),
      ...(pathResolver && { pathResolver }),
    }),
    rulesPolicy(set, { ...rest, grantScopes }),
  ];
}
