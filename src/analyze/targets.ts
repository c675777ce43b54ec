import { domainToASCII } from 'node:url';
import { accountsIn } from './accounts.js';
import { Memo } from './memo.js';
import { trimEnd } from './scan.js';
import { isDottedQuad, visitPlaces } from './urls.js';

/** What kind of counterparty a value names. */
export type TargetKind = 'host' | 'url' | 'email' | 'account' | 'ip' | 'local';

/** A network target or counterparty found in text, normalized so that look-alikes compare equal. */
export interface Target {
  readonly kind: TargetKind;
  /**
   * Normalized value: lower-case host (punycode, no trailing dot, no `www.`), canonical URL, lower-case email,
   * upper-case account; for `local` (a URL that reaches this machine, not the network: `file:` with no host,
   * `unix:` and `*+unix:` sockets) the scheme and path, `file:///etc/passwd`.
   */
  readonly value: string;
  /** For urls and emails: the normalized host they reach. */
  readonly host?: string;
}

// Hosts and URLs repeat across a session: remember recent normalizations (bounded).
const hostCache = new Map<string, string | undefined>();
const urlCache = new Map<string, NormalizedUrl | undefined>();
function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= 4096) cache.clear();
  cache.set(key, value);
  return value;
}

const isDot = (c: number) => c === 46;

/** Normalize a host: IDN to punycode, lower case, no trailing dot, no leading `www.`. IPv4 forms are canonicalized. */
export function normalizeHost(input: string): string | undefined {
  if (hostCache.has(input)) return hostCache.get(input);
  return remember(hostCache, input, normalizeHostUncached(input));
}

function normalizeHostUncached(input: string): string | undefined {
  let host = trimEnd(input.trim().toLowerCase(), isDot);
  if (host === '') return undefined;
  try {
    // The WHATWG URL parser canonicalizes IDN (punycode) and decimal/hex/octal IPv4 forms.
    host = new URL(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`).hostname;
  } catch {
    const ascii = domainToASCII(host);
    if (!ascii) return undefined;
    host = ascii;
  }
  host = trimEnd(host, isDot);
  return host.startsWith('www.') ? host.slice(4) : host;
}

const isTrailingPunct = (c: number) => c === 46 || c === 44 || c === 59 || c === 58 || c === 33 || c === 63;
const isSlashCode = (c: number) => c === 47;

/**
 * Parse a URL-ish string into a normalized URL target and the host it reaches, the way WHATWG URL (what
 * fetch and Node use) reads it: with a scheme (`http:evil.test/x` and `https:\\evil.test` included),
 * protocol-relative (`//evil.test/x`), or bare (`evil.test/x`, read as http). `also` is the host an
 * RFC 3986 parser (Python's urllib, curl) would reach instead, when the two disagree
 * (`http://trusted.test\@evil.test/`): a call must be approved for both.
 */
type NormalizedUrl = { url: string; host: string; also?: string; local?: true };
function normalizeUrl(input: string): NormalizedUrl | undefined {
  if (urlCache.has(input)) return urlCache.get(input);
  return remember(urlCache, input, normalizeUrlUncached(input));
}

/** `file:`, `unix:` and the `+unix` forms of requests-unixsocket and friends (`http+unix://%2Fvar%2Frun%2Fdocker.sock/`). */
const isLocalScheme = (protocol: string): boolean =>
  protocol === 'file:' || protocol === 'unix:' || protocol.endsWith('+unix:');

function normalizeUrlUncached(input: string): NormalizedUrl | undefined {
  const text = trimEnd(input, isTrailingPunct);
  const c0 = text.charCodeAt(0),
    c1 = text.charCodeAt(1);
  const slashes = (c0 === 47 || c0 === 92) && (c1 === 47 || c1 === 92);
  const schemed = !slashes && /* scheme: */ schemeLength(text) > 0;
  try {
    const u = new URL(slashes ? `http:${text}` : schemed ? text : `http://${text}`);
    // A URL that reaches a local file or socket names no host, yet it is outside every network zone.
    if (schemed && isLocalScheme(u.protocol) && (u.protocol !== 'file:' || !u.hostname))
      return {
        url: `${u.protocol}//${u.protocol === 'file:' ? '' : u.hostname}${u.pathname}`,
        host: '',
        local: true,
      };
    if (!u.hostname) return undefined;
    const host = normalizeHost(u.hostname);
    if (!host) return undefined;
    // user-info (`trusted.com@evil.com`) is dropped: the host is what the request reaches.
    const path = u.pathname === '/' ? '' : trimEnd(u.pathname, isSlashCode);
    const rfc = rfcHost(slashes || schemed ? text : `//${text}`);
    const also = rfc !== undefined && rfc !== host ? rfc : undefined;
    return { url: `${host}${u.port ? `:${u.port}` : ''}${path}`, host, ...(also !== undefined && { also }) };
  } catch {
    return undefined;
  }
}

/** Length of a leading `scheme:` (letters, digits, `+.-`, starting with a letter), 0 if none. */
function schemeLength(text: string): number {
  const i = text.indexOf(':');
  if (i <= 0 || i > 32) return 0;
  const c = text.charCodeAt(0);
  if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return 0;
  for (let k = 1; k < i; k++) {
    const d = text.charCodeAt(k);
    if (!(
      (d >= 65 && d <= 90) ||
      (d >= 97 && d <= 122) ||
      (d >= 48 && d <= 57) ||
      d === 43 ||
      d === 46 ||
      d === 45
    ))
      return 0;
  }
  return i + 1;
}

/** The host an RFC 3986 reader finds: the authority after `//` runs to `/`, `?` or `#` (a backslash is not a separator), the host after its last `@`. */
function rfcHost(text: string): string | undefined {
  const from = text.indexOf('//');
  if (from < 0) return undefined;
  let end = from + 2;
  while (end < text.length && !'/?#'.includes(text[end]!)) end++;
  const authority = text.slice(from + 2, end);
  if (!authority.includes('\\')) return undefined;
  let host = authority.slice(authority.lastIndexOf('@') + 1);
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && !host.endsWith(']')) host = host.slice(0, colon);
  const bs = host.indexOf('\\');
  if (bs >= 0) host = host.slice(0, bs);
  return host ? normalizeHost(host) : undefined;
}

const isIp = (h: string) => h.startsWith('[') || isDottedQuad(h);

/**
 * Find the hosts, URLs, emails, IPs and account numbers named in a text. One linear scan finds the
 * places ({@link visitPlaces}); accounts are found by shape ({@link accountsIn}: dates and times are not
 * accounts). `asDestination`: the text is a destination argument's value (`to`, `url`...), so a bare
 * name such as `evil.zip` is a host even though `.zip` is also a file extension.
 * @example extractTargets('pay GB29 NWBK 6016 1331 9268 19 or see https://Example.COM./x')
 */
export function extractTargets(
  text: string,
  out: Map<string, Target> = new Map(),
  asDestination = false,
): Map<string, Target> {
  if (text.length < 4) return out;
  visitPlaces(text, asDestination, (kind, place, path) => {
    if (kind === 'email') {
      const value = place.toLowerCase();
      const host = normalizeHost(value.slice(value.lastIndexOf('@') + 1));
      addTarget(out, host ? { kind: 'email', value, host } : { kind: 'email', value });
      if (host) addHost(out, host);
    } else if (kind === 'ip') {
      addHost(out, place);
    } else {
      const n = normalizeUrl(place);
      if (!n) return;
      if (n.local) return addTarget(out, { kind: 'local', value: n.url });
      if (kind === 'url' || path) addTarget(out, { kind: 'url', value: n.url, host: n.host });
      addHost(out, n.host);
      if (n.also) addHost(out, n.also);
    }
  });
  for (const value of accountsIn(text)) addTarget(out, { kind: 'account', value });
  return out;
}

function addTarget(out: Map<string, Target>, t: Target): void {
  const key = `${t.kind}:${t.value}`;
  if (!out.has(key)) out.set(key, t);
}

function addHost(out: Map<string, Target>, host: string): void {
  addTarget(out, { kind: isIp(host) ? 'ip' : 'host', value: host });
}

// Two memos (a destination argument's value is read with bare names as hosts): values seen once are not kept.
const memos = [false, true].map(
  (asDestination) =>
    new Memo<ReadonlyMap<string, Target>>(4096, (text) => extractTargets(text, new Map(), asDestination)),
);

/**
 * {@link extractTargets} for one argument value, memoized when it repeats (bounded, see memo.ts): agents
 * repeat the same paths, recipients and URLs call after call. The returned map must not be modified.
 */
export function targetsOf(text: string, asDestination = false): ReadonlyMap<string, Target> {
  if (text.length > 512) return extractTargets(text, new Map(), asDestination);
  return memos[asDestination ? 1 : 0]!.get(text);
}

/** Collect every string inside a JSON value (keys excluded), up to a total length budget. */
export function collectStrings(
  value: unknown,
  out: string[] = [],
  budget = { left: 1 << 20 },
  depth = 0,
): string[] {
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
