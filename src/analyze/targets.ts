import { domainToASCII } from 'node:url';

/** What kind of counterparty a value names. */
export type TargetKind = 'host' | 'url' | 'email' | 'account' | 'ip';

/** A network target or counterparty found in text, normalized so that look-alikes compare equal. */
export interface Target {
  readonly kind: TargetKind;
  /** Normalized value: lower-case host (punycode, no trailing dot, no `www.`), canonical URL, lower-case email, upper-case account. */
  readonly value: string;
  /** For urls and emails: the normalized host they reach. */
  readonly host?: string;
}

// Common top-level domains for bare domains without a scheme ("example.com/x"). With a scheme, `www.`
// or an `@`, any TLD counts. File extensions that are also ccTLDs (.md, .py, .sh...) are not listed.
const BARE_TLDS = new Set([
  'com', 'net', 'org', 'io', 'ai', 'dev', 'app', 'co', 'info', 'biz', 'xyz', 'me', 'us', 'uk', 'de', 'fr', 'ch', 'eu', 'nl', 'ru', 'cn',
  'jp', 'in', 'br', 'au', 'ca', 'es', 'it', 'se', 'no', 'pl', 'gov', 'edu', 'mil', 'int', 'site', 'online', 'tech', 'cloud', 'page', 'link',
  'live', 'top', 'club', 'store', 'shop', 'blog', 'news', 'world', 'pro', 'tk', 'ml', 'ga', 'cf', 'gq', 'ly', 'to', 'cc', 'tv', 'ws', 'gg', 'sh',
]);

const URL_RE = /\b(?:[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'<>()[\]{}`]+|www\.[^\s"'<>()[\]{}`]+)/gi;
const EMAIL_RE = /\b[a-z0-9._%+-]{1,64}@(?:[a-z0-9-]{1,63}\.)+[a-z]{2,63}\b/gi;
const BARE_DOMAIN_RE = /\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24}))\.?(\/[^\s"'<>()[\]{}`]*)?/gi;
const IPV4_RE = /\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/g;
// IBAN-shaped account numbers (2 letters, 2 check digits, 11-30 alphanumerics, optional spaces in groups of 4).
const IBAN_RE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g;
// Long digit runs (card, account and routing numbers); 9+ digits, optionally grouped by spaces or dashes.
const DIGITS_RE = /(?<!\d[.,]?)\d(?:[ -]?\d){8,22}(?![.,]?\d)/g;

// Hosts and URLs repeat across a session: remember recent normalizations (bounded).
const hostCache = new Map<string, string | undefined>();
const urlCache = new Map<string, { url: string; host: string } | undefined>();
function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= 4096) cache.clear();
  cache.set(key, value);
  return value;
}

/** Normalize a host: IDN to punycode, lower case, no trailing dot, no leading `www.`. IPv4 forms are canonicalized. */
export function normalizeHost(input: string): string | undefined {
  if (hostCache.has(input)) return hostCache.get(input);
  return remember(hostCache, input, normalizeHostUncached(input));
}

function normalizeHostUncached(input: string): string | undefined {
  let host = input.trim().toLowerCase().replace(/\.+$/, '');
  if (host === '') return undefined;
  try {
    // The WHATWG URL parser canonicalizes IDN (punycode) and decimal/hex/octal IPv4 forms.
    host = new URL(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`).hostname;
  } catch {
    const ascii = domainToASCII(host);
    if (!ascii) return undefined;
    host = ascii;
  }
  host = host.replace(/\.+$/, '');
  return host.startsWith('www.') ? host.slice(4) : host;
}

/** Parse a URL-ish string (with or without scheme) into a normalized URL target and its host. */
export function normalizeUrl(input: string): { url: string; host: string } | undefined {
  if (urlCache.has(input)) return urlCache.get(input);
  return remember(urlCache, input, normalizeUrlUncached(input));
}

function normalizeUrlUncached(input: string): { url: string; host: string } | undefined {
  const text = input.replace(/[.,;:!?]+$/, '');
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
    if (!u.hostname) return undefined;
    const host = normalizeHost(u.hostname);
    if (!host) return undefined;
    // user-info (`trusted.com@evil.com`) is dropped: the host is what the request reaches.
    const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
    return { url: `${host}${u.port ? `:${u.port}` : ''}${path}`, host };
  } catch {
    return undefined;
  }
}

const isIp = (h: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.startsWith('[');

/**
 * Find the hosts, URLs, emails, IPs and account numbers named in a text.
 * @example extractTargets('pay GB29 NWBK 6016 1331 9268 19 or see https://Example.COM./x')
 */
export function extractTargets(text: string, out: Map<string, Target> = new Map()): Map<string, Target> {
  if (text.length < 4) return out;
  let covered: [number, number][] | undefined;
  // Cheap pre-checks keep the regexes off text that cannot match them.
  if (text.includes('://') || WWW_HINT.test(text)) {
    for (const m of text.matchAll(URL_RE)) {
      const n = normalizeUrl(m[0]);
      if (!n) continue;
      (covered ??= []).push([m.index!, m.index! + m[0].length]);
      addTarget(out, { kind: 'url', value: n.url, host: n.host });
      addHost(out, n.host);
    }
  }
  if (text.includes('@')) {
    for (const m of text.matchAll(EMAIL_RE)) {
      const value = m[0].toLowerCase();
      const host = normalizeHost(value.slice(value.lastIndexOf('@') + 1));
      (covered ??= []).push([m.index!, m.index! + m[0].length]);
      addTarget(out, host ? { kind: 'email', value, host } : { kind: 'email', value });
      if (host) addHost(out, host);
    }
  }
  if (DOMAIN_HINT.test(text)) {
    // Matches come in increasing position: walk the covered spans (sorted by start) with one pointer,
    // rather than test every span for every match (quadratic on a text with thousands of addresses).
    covered?.sort((x, y) => x[0] - y[0]);
    let p = 0;
    for (const m of text.matchAll(BARE_DOMAIN_RE)) {
      const start = m.index!;
      if (covered) {
        while (p < covered.length && covered[p]![1] <= start) p++;
        if (p < covered.length && covered[p]![0] <= start) continue;
      }
      if (!BARE_TLDS.has(m[2]!.toLowerCase())) continue;
      const n = normalizeUrl(m[0]);
      if (!n) continue;
      if (m[3]) addTarget(out, { kind: 'url', value: n.url, host: n.host });
      addHost(out, n.host);
    }
  }
  if (IP_HINT.test(text)) for (const m of text.matchAll(IPV4_RE)) addHost(out, m[0]);
  if (IBAN_HINT.test(text)) for (const m of text.matchAll(IBAN_RE)) addTarget(out, { kind: 'account', value: m[0].replace(/ /g, '') });
  if (DIGITS_HINT.test(text)) {
    for (const m of text.matchAll(DIGITS_RE)) {
      const digits = m[0].replace(/[ -]/g, '');
      if (digits.length >= 9) addTarget(out, { kind: 'account', value: digits });
    }
  }
  return out;
}

const WWW_HINT = /www\./i;
const DOMAIN_HINT = /[a-z0-9]\.[a-z]{2}/i;
const IP_HINT = /\d\.\d/;
const IBAN_HINT = /[A-Z]{2}\d{2}/;
const DIGITS_HINT = /\d{4}/;

function addTarget(out: Map<string, Target>, t: Target): void {
  const key = `${t.kind}:${t.value}`;
  if (!out.has(key)) out.set(key, t);
}

function addHost(out: Map<string, Target>, host: string): void {
  addTarget(out, { kind: isIp(host) ? 'ip' : 'host', value: host });
}

const extractCache = new Map<string, ReadonlyMap<string, Target>>();

/**
 * {@link extractTargets} for one argument value, memoized (bounded): agents repeat the same paths,
 * recipients and URLs call after call. The returned map must not be modified.
 */
export function targetsOf(text: string): ReadonlyMap<string, Target> {
  if (text.length > 512) return extractTargets(text);
  let found = extractCache.get(text);
  if (!found) {
    found = extractTargets(text);
    if (extractCache.size >= 8192) extractCache.clear();
    extractCache.set(text, found);
  }
  return found;
}

/** Collect every string inside a JSON value (keys excluded), up to a total length budget. */
export function collectStrings(value: unknown, out: string[] = [], budget = { left: 1 << 20 }, depth = 0): string[] {
  if (budget.left <= 0 || depth > 64) return out;
  if (typeof value === 'string') {
    out.push(value.length > budget.left ? value.slice(0, budget.left) : value);
    budget.left -= value.length;
  } else if (Array.isArray(value)) {
    for (const v of value) collectStrings(v, out, budget, depth + 1);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) collectStrings(v, out, budget, depth + 1);
  }
  return out;
}
