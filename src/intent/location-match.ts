import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { PathResolver } from './real-path.js';

const URL_FORM = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The location a path- or URL-like argument names, as a server will resolve it, so that `..`, `.`,
 * doubled separators, backslashes and percent-encoded dots or slashes cannot step outside an approved
 * prefix or glob (`/srv/project/../../etc/passwd` is `/etc/passwd`). URLs are resolved by the WHATWG
 * parser; anything else is treated as a path.
 */
export function resolvedLocation(value: string): string {
  if (URL_FORM.test(value)) {
    try {
      return new URL(value).href;
    } catch {
      // not a URL after all: a path
    }
  }
  const p = value.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\').replace(/\\/g, '/');
  return p.includes('/') || p === '.' || p === '..' ? posix.normalize(p) : p;
}

/**
 * Does `value` lie under `prefix`? A prefix naming a URL ends at a segment, query or fragment boundary;
 * a prefix naming a path (or compared with a path) only at a separator: `/srv/project` covers
 * `/srv/project/a` but not `/srv/project#x/a`, `/srv/project?q/a` or `/srv/projects`. A prefix that
 * names neither (`eng-`, `ACME`) is a plain string prefix.
 */
export function underPrefix(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix)) return false;
  if (prefix.endsWith('/') || value.length === prefix.length) return true;
  const next = value[prefix.length];
  if (URL_FORM.test(prefix)) return next === '/' || next === '?' || next === '#';
  if (prefix.includes('/') || value.includes('/')) return next === '/';
  return true;
}

const isFileUrl = (s: string) => s.length >= 5 && s.slice(0, 5).toLowerCase() === 'file:';
const isWebUrl = (s: string) => URL_FORM.test(s) && !isFileUrl(s);

const filePath = (url: string): string => {
  try {
    return posix.normalize(decodeURIComponent(new URL(url).pathname));
  } catch {
    return url;
  }
};

/** Is this entry a glob (`*`, `?`, `[`, `{`) rather than a prefix? */
export const isGlob = (s: string): boolean => /[*?[{]/.test(s);

/** Does an approved pattern name a path (a separator, `~` or a leading dot) rather than a plain string? */
export const pathish = (s: string): boolean =>
  !isWebUrl(s) && (s.includes('/') || s.includes('\\') || s.startsWith('~') || s.startsWith('.'));

/**
 * Approved locations, compiled once: a value is approved when it lies under one of the prefixes (for
 * paths, only at a separator) or matches one of the globs. On the server's own host (a
 * {@link PathResolver} is given) a path is checked in its absolute form and in its real form (through
 * symlinks, `realpath` of the longest existing prefix), against the approved locations in the same
 * forms; every form must be approved. Without a resolver a path is compared as written, after
 * `..`/`.`/percent-encoding normalisation.
 */
export interface LocationMatcher {
  /** The forms of `value` outside every approved location (empty: approved). */
  outside(value: string): string[];
}

/** Compile approved prefixes and globs (a glob without wildcards matches exactly that location). */
export function locationMatcher(
  prefixes: readonly string[],
  globs: readonly string[],
  resolver?: PathResolver,
): LocationMatcher {
  const webPrefixes = prefixes
    .filter(isWebUrl)
    .map((p) => resolvedLocation(p).replace(/\/$/, p.endsWith('/') ? '/' : ''));
  const webGlobs = globs.filter(isWebUrl).map((g) => picomatch(g, { dot: true }));
  const pathPrefixes = prefixes.filter((p) => !isWebUrl(p));
  const pathGlobs = globs.filter((g) => !isWebUrl(g));
  const lexicalGlobs = pathGlobs.map((g) => picomatch(g, { dot: true }));
  const hostGlobs = resolver
    ? pathGlobs.map((g) => picomatch(resolver(g).absolute, { dot: true }))
    : lexicalGlobs;
  // Prefixes are resolved at each check: a folder created, moved or re-linked later is seen as it is now.
  const prefixForms = (): readonly string[] => {
    if (!resolver) return pathPrefixes.map(resolvedLocation);
    const out: string[] = [];
    for (const p of pathPrefixes) {
      const r = resolver(p);
      out.push(r.absolute, r.real);
    }
    return out;
  };
  const outsideOne = (value: string): string[] => {
    const written = resolvedLocation(value);
    // A file: URL names the path it carries.
    const where = isFileUrl(written) ? filePath(written) : written;
    if (isWebUrl(where))
      return webPrefixes.some((p) => underPrefix(where, p)) || webGlobs.some((m) => m(where)) ? [] : [where];
    // On the host: as written and as decoded (a server may or may not decode `%2e%2e`), each absolute and real.
    const forms = resolver
      ? [
          ...new Set([
            ...Object.values(resolver(value)),
            ...(where === value ? [] : Object.values(resolver(where))),
          ]),
        ]
      : [where];
    const pre = prefixForms();
    const globsNow = resolver ? hostGlobs : lexicalGlobs;
    return forms.filter((f) => !pre.some((p) => underPrefix(f, p)) && !globsNow.some((m) => m(f)));
  };
  return {
    outside(value) {
      // Every spelling a server may act on must be approved: as written, decoded once more (`%252e%252e`
      // is `%2e%2e` to a server that decodes twice), and for a web URL with `%2f` / `%5c` decoded (WHATWG
      // keeps `/v1/..%2fadmin` under /v1, a server that decodes before routing reaches /admin).
      const spellings = new Set([value]);
      if (value.includes('%25')) spellings.add(value.replace(/%25/g, '%'));
      for (const v of [...spellings])
        if (isWebUrl(v) && /%(2f|5c)/i.test(v)) spellings.add(v.replace(/%2f/gi, '/').replace(/%5c/gi, '\\'));
      const out = new Set<string>();
      for (const v of spellings) for (const f of outsideOne(v)) out.add(f);
      return [...out];
    },
  };
}
