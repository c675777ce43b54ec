import { locationMatcher, pathish } from './location-match.js';
import type { PathResolver } from './real-path.js';
import type { ArgConstraint, Intent } from '../model/intent.js';

export { resolvedLocation } from './location-match.js';

const resolvedNote = (v: string, forms: readonly string[]): string => {
  const other = forms.find((f) => f !== v);
  return other === undefined ? '' : ` (resolves to ${show(other)})`;
};

/** A compiled argument check: returns a reason when the value violates the constraint. */
type ArgCheck = (args: Readonly<Record<string, unknown>>) => string | undefined;

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function compileOne(name: string, c: ArgConstraint, resolver: PathResolver | undefined): ArgCheck {
  // Path constraints are checked where the path really leads when the server shares this host.
  const onHost = (list: readonly string[]) => (list.some(pathish) ? resolver : undefined);
  const globs = c.glob && locationMatcher([], c.glob, onHost(c.glob));
  const prefixes = c.prefix && locationMatcher(c.prefix, [], onHost(c.prefix));
  return (args) => {
    if (!(name in args) || args[name] === undefined)
      return c.required ? `argument "${name}" is required` : undefined;
    const v = args[name];
    if ('equals' in c && JSON.stringify(v) !== JSON.stringify(c.equals))
      return `argument "${name}" must equal ${show(c.equals)}`;
    if (c.oneOf && !c.oneOf.some((o) => JSON.stringify(o) === JSON.stringify(v)))
      return `argument "${name}" must be one of ${show(c.oneOf)}`;
    if (globs || prefixes) {
      if (typeof v !== 'string') return `argument "${name}" must be a string`;
      const badGlob = globs?.outside(v) ?? [];
      if (badGlob.length > 0)
        return `argument "${name}" is outside the approved patterns ${show(c.glob)}${resolvedNote(v, badGlob)}`;
      const badPrefix = prefixes?.outside(v) ?? [];
      if (badPrefix.length > 0)
        return `argument "${name}" is outside the approved prefixes ${show(c.prefix)}${resolvedNote(v, badPrefix)}`;
    }
    if (c.min !== undefined || c.max !== undefined) {
      if (typeof v !== 'number') return `argument "${name}" must be a number`;
      if (c.min !== undefined && v < c.min)
        return `argument "${name}" is below the approved minimum ${c.min}`;
      if (c.max !== undefined && v > c.max) return `argument "${name}" exceeds the approved maximum ${c.max}`;
    }
    if (c.maxLength !== undefined && (typeof v === 'string' || Array.isArray(v)) && v.length > c.maxLength) {
      return `argument "${name}" is longer than the approved ${c.maxLength}`;
    }
    return undefined;
  };
}

/**
 * Compile an intent's tool grants once into a lookup of per-tool argument checks.
 * `undefined` for a tool means the tool is not approved. With a `resolver` (the server runs on this
 * host) path constraints hold for the real path, through symlinks.
 * @example compileToolGrants(intent).get('write_file')?.({ path: '/etc/passwd' })
 */
export function compileToolGrants(
  intent: Intent,
  resolver?: PathResolver,
): {
  approves(tool: string): boolean;
  check(tool: string, args: Readonly<Record<string, unknown>>): string[];
} {
  if (intent.tools === '*') return { approves: () => true, check: () => [] };
  const table = new Map<string, ArgCheck[]>();
  for (const t of intent.tools) {
    const checks = Object.entries(t.args ?? {}).map(([k, c]) => compileOne(k, c, resolver));
    table.set(t.name, [...(table.get(t.name) ?? []), ...checks]);
  }
  return {
    approves: (tool) => table.has(tool),
    check: (tool, args) => {
      const out: string[] = [];
      for (const c of table.get(tool) ?? []) {
        const r = c(args);
        if (r) out.push(r);
      }
      return out;
    },
  };
}
