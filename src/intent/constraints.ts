import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { ArgConstraint, Intent } from './types.js';

/** A compiled argument check: returns a reason when the value violates the constraint. */
export type ArgCheck = (args: Readonly<Record<string, unknown>>) => string | undefined;

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/**
 * The location a path- or URL-like argument names, as a server will resolve it, so that `..`, `.`,
 * doubled separators, backslashes and percent-encoded dots or slashes cannot step outside an approved
 * prefix or glob (`/srv/project/../../etc/passwd` is `/etc/passwd`). URLs are resolved by the WHATWG
 * parser; anything else is treated as a path.
 */
export function resolvedLocation(value: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      return new URL(value).href;
    } catch {
      // not a URL after all: a path
    }
  }
  const p = value.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\').replace(/\\/g, '/');
  return p.includes('/') || p === '.' || p === '..' ? posix.normalize(p) : p;
}

/** Does `value` lie under `prefix`? A prefix naming a path or URL ends at a segment boundary. */
function underPrefix(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix)) return false;
  if (!prefix.includes('/') || prefix.endsWith('/') || value.length === prefix.length) return true;
  const next = value[prefix.length];
  return next === '/' || next === '?' || next === '#';
}

function compileOne(name: string, c: ArgConstraint): ArgCheck {
  const globs = c.glob?.map((g) => picomatch(g, { dot: true }));
  // A prefix written as a URL is compared with resolved URLs in the same canonical form.
  const prefixes = c.prefix?.map((p) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? resolvedLocation(p).replace(/\/$/, p.endsWith('/') ? '/' : '') : p));
  return (args) => {
    if (!(name in args) || args[name] === undefined) return c.required ? `argument "${name}" is required` : undefined;
    const v = args[name];
    if ('equals' in c && JSON.stringify(v) !== JSON.stringify(c.equals)) return `argument "${name}" must equal ${show(c.equals)}`;
    if (c.oneOf && !c.oneOf.some((o) => JSON.stringify(o) === JSON.stringify(v))) return `argument "${name}" must be one of ${show(c.oneOf)}`;
    if (globs || prefixes) {
      if (typeof v !== 'string') return `argument "${name}" must be a string`;
      const where = resolvedLocation(v);
      const resolved = where === v ? '' : ` (resolves to ${show(where)})`;
      if (globs && !globs.some((m) => m(where))) return `argument "${name}" is outside the approved patterns ${show(c.glob)}${resolved}`;
      if (prefixes && !prefixes.some((p) => underPrefix(where, p))) return `argument "${name}" is outside the approved prefixes ${show(c.prefix)}${resolved}`;
    }
    if (c.min !== undefined || c.max !== undefined) {
      if (typeof v !== 'number') return `argument "${name}" must be a number`;
      if (c.min !== undefined && v < c.min) return `argument "${name}" is below the approved minimum ${c.min}`;
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
 * `undefined` for a tool means the tool is not approved.
 * @example compileToolGrants(intent).get('write_file')?.({ path: '/etc/passwd' })
 */
export function compileToolGrants(intent: Intent): { approves(tool: string): boolean; check(tool: string, args: Readonly<Record<string, unknown>>): string[] } {
  if (intent.tools === '*') return { approves: () => true, check: () => [] };
  const table = new Map<string, ArgCheck[]>();
  for (const t of intent.tools) {
    const checks = Object.entries(t.args ?? {}).map(([k, c]) => compileOne(k, c));
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
