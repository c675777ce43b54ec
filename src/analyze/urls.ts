import { createRequire } from 'node:module';
import { asciiTable, isAlnum, isAsciiLetter, isDigit, isSpace, isWord } from './scan.js';

// tldts (the Public Suffix List, one large file: ≈ 0.3 s to load on a loaded machine) is loaded when a
// bare dotted name first needs it, not at every start: a stdio proxy's first answer rarely does.
const load = createRequire(import.meta.url);
let tldts: typeof import('tldts') | undefined;
const parseDomain: (typeof import('tldts'))['parse'] = (url, options) =>
  (tldts ??= load('tldts') as typeof import('tldts')).parse(url, options);

/** What a scan of text found that names a network place, before normalization. */
type Place =
  | { readonly kind: 'url'; readonly text: string }
  | { readonly kind: 'email'; readonly text: string }
  | { readonly kind: 'bare'; readonly text: string; readonly path: boolean }
  | { readonly kind: 'ip'; readonly text: string };

// Characters that end a token (what cannot be inside an unquoted URL): whitespace, quotes, brackets.
const DELIM = asciiTable(
  (c) =>
    isSpace(c) ||
    c === 34 ||
    c === 39 ||
    c === 60 ||
    c === 62 ||
    c === 40 ||
    c === 41 ||
    c === 91 ||
    c === 93 ||
    c === 123 ||
    c === 125 ||
    c === 96,
);
const isDelim = (c: number): boolean => (c < 128 ? DELIM[c] === 1 : isSpace(c));
const SCHEME = asciiTable((c) => isAlnum(c) || c === 43 || c === 46 || c === 45);
const isSchemeChar = (c: number): boolean => c < 128 && SCHEME[c] === 1;
const HOST = asciiTable((c) => isAlnum(c) || c === 46 || c === 45);
const isHostChar = (c: number): boolean => c < 128 && HOST[c] === 1;
const LOCAL = asciiTable((c) => isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45);
const isLocalChar = (c: number): boolean => c < 128 && LOCAL[c] === 1;
const isSlash = (c: number): boolean => c === 47 || c === 92;

// Schemes WHATWG parses as hierarchical even without `//` (`http:evil.test/x` reaches evil.test).
const SPECIAL = new Set(['http', 'https', 'ws', 'wss', 'ftp']);

/**
 * URL starts in one token: `scheme://`, a special scheme with any number of slashes or backslashes
 * (`http:evil.test`, `https:\\evil.test`), `www.`, or a token that begins with two slashes
 * (`//evil.test/x`, protocol-relative). Returns [start, scheme length] pairs, in order.
 */
function urlStarts(text: string, s: number, e: number): number[] {
  const out: number[] = [];
  if (
    e - s > 2 &&
    isSlash(text.charCodeAt(s)) &&
    isSlash(text.charCodeAt(s + 1)) &&
    (isHostChar(text.charCodeAt(s + 2)) || text.charCodeAt(s + 2) === 91)
  )
    out.push(s);
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c === 58 /* : */) {
      // Walk back over the scheme (bounded: 16 characters).
      let b = i;
      while (b > s && i - b < 16 && isSchemeChar(text.charCodeAt(b - 1))) b--;
      while (b < i && !isAsciiLetter(text.charCodeAt(b))) b++;
      if (b === i) continue;
      const scheme = text.slice(b, i).toLowerCase();
      const slashes = text.startsWith('//', i + 1);
      if (
        slashes ||
        // `file:/etc/passwd`, `file:\\etc`, `file:etc/passwd` (also inside `jar:file:…`): WHATWG reads the
        // one-slash and no-slash forms as a path from the root too.
        (scheme === 'file' &&
          i + 1 < e &&
          (isSlash(text.charCodeAt(i + 1)) || isHostChar(text.charCodeAt(i + 1)))) ||
        (SPECIAL.has(scheme) &&
          i + 1 < e &&
          (isSlash(text.charCodeAt(i + 1)) ||
            isHostChar(text.charCodeAt(i + 1)) ||
            text.charCodeAt(i + 1) === 91))
      ) {
        if (out.length === 0 || out[out.length - 1]! < b) out.push(b);
      }
    } else if (
      (c === 119 || c === 87) &&
      (i === s || !isWord(text.charCodeAt(i - 1))) &&
      text.slice(i, i + 4).toLowerCase() === 'www.'
    ) {
      if (out.length === 0 || out[out.length - 1]! < i) out.push(i);
    }
  }
  return out;
}

/** Email addresses around each `@` of a token: a local part of up to 64 characters and a dotted domain. Their spans go to `spans` (flat start, end pairs, in order). */
function emailsIn(
  text: string,
  first: number,
  s: number,
  e: number,
  visit: PlaceVisitor,
  spans: number[],
): void {
  for (let at = first; at < e; at++) {
    if (text.charCodeAt(at) !== 64) continue;
    let b = at;
    while (b > s && at - b < 64 && isLocalChar(text.charCodeAt(b - 1))) b--;
    while (b < at && !isWord(text.charCodeAt(b))) b++;
    if (b === at) continue;
    let d = at + 1;
    while (d < e && isHostChar(text.charCodeAt(d))) d++;
    const end = domainEnd(text, at + 1, d);
    if (end < 0) continue;
    visit('email', text.slice(b, end), false);
    spans.push(b, end);
  }
}

/**
 * End of the longest dotted domain starting at `s` within [s, e): labels of letters, digits and
 * hyphens (up to 63), at least two, the last one letters only (2–63). -1 if none.
 */
function domainEnd(text: string, s: number, e: number): number {
  let best = -1;
  let labels = 0;
  let labelStart = s;
  let letters = true;
  for (let i = s; i <= e; i++) {
    const c = i < e ? text.charCodeAt(i) : 46;
    if (c === 46 || i === e) {
      const len = i - labelStart;
      if (len < 1 || len > 63) break;
      labels++;
      if (labels >= 2 && letters && len >= 2 && (i === e || !isWord(text.charCodeAt(i)) || c === 46))
        best = i;
      labelStart = i + 1;
      letters = true;
      if (i === e) break;
    } else if (!isAsciiLetter(c)) letters = false;
  }
  return best;
}

/** A dotted-quad IPv4 address, each part 0–255. */
export function isDottedQuad(h: string): boolean {
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= h.length; i++) {
    const c = i < h.length ? h.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || value > 255 || ++parts > 4) return false;
      value = 0;
      digits = 0;
    } else if (isDigit(c) && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else return false;
  }
  return parts === 4;
}

// Public-suffix names that are also common file extensions: a bare `notes.md` or `setup.py` is a file,
// not a host, unless something else says it is a place (a path after it, a scheme, `www.`, `@`).
const FILE_EXTENSIONS = new Set([
  'md',
  'py',
  'sh',
  'rs',
  'pl',
  'pm',
  'ps',
  'cc',
  'mk',
  'ml',
  'am',
  'in',
  'so',
  'zip',
  'mov',
  'app',
  'ai',
  'gs',
  'sc',
  'st',
  'tf',
  'cx',
]);
// Special-use names (RFC 6761, 2606 and ICANN's private-use `internal`): hosts, though not public suffixes.
const SPECIAL_USE = new Set([
  'test',
  'example',
  'invalid',
  'localhost',
  'local',
  'onion',
  'internal',
  'lan',
  'home',
]);

/** Whether a bare dotted name ends in a real public suffix (Public Suffix List, ICANN section) or a special-use name. */
function isPublicHost(host: string): boolean {
  const lower = host.toLowerCase();
  const tld = lower.slice(lower.lastIndexOf('.') + 1);
  if (SPECIAL_USE.has(tld)) return true;
  const p = parseDomain(lower, { allowPrivateDomains: false, extractHostname: false });
  return p.isIcann === true && p.domain !== null;
}

/**
 * Bare names in a token: runs of host characters, dotted, ending in a known suffix; not path parts, not
 * inside a URL of the token (from `urlFrom` on; -1 if none) or an email (`spans`, flat pairs in order).
 */
function bareIn(
  text: string,
  s: number,
  e: number,
  visit: PlaceVisitor,
  urlFrom: number,
  spans: readonly number[],
  asDestination: boolean,
): void {
  let span = 0;
  for (let i = s; i < e;) {
    if (!isHostChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const run = i;
    let b = i;
    while (i < e && isHostChar(text.charCodeAt(i))) i++;
    while (b < i && !isAlnum(text.charCodeAt(b))) b++;
    if (b === i) continue;
    if (urlFrom >= 0 && b >= urlFrom) continue;
    while (span < spans.length && spans[span + 1]! <= b) span += 2;
    if (span < spans.length && spans[span]! <= b) continue;
    const prev = run > s ? text.charCodeAt(run - 1) : 0;
    // A name after a slash or backslash is part of a path (`docs/notes.md`), not a host of its own.
    if (isSlash(prev)) continue;
    const end = domainEnd(text, b, i);
    let name = text.slice(b, end < 0 ? i : end);
    while (name.endsWith('.') || name.endsWith('-')) name = name.slice(0, -1);
    if (isDottedQuad(name)) {
      visit('ip', name, false);
      continue;
    }
    if (end < 0 || !isPublicHost(name)) continue;
    const path =
      end < e && isSlash(text.charCodeAt(end)) && end + 1 < e && !isSpace(text.charCodeAt(end + 1));
    const port = end < e && text.charCodeAt(end) === 58 && end + 1 < e && isDigit(text.charCodeAt(end + 1));
    const tld = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
    if (
      !asDestination &&
      !path &&
      !port &&
      FILE_EXTENSIONS.has(tld) &&
      name.indexOf('.') === name.lastIndexOf('.')
    )
      continue;
    let stop = end;
    if (path || port) while (stop < e && !isDelim(text.charCodeAt(stop))) stop++;
    visit('bare', text.slice(b, stop), path || port);
  }
}

/** What {@link visitPlaces} reports for each place: its kind, its text, and for bare names whether a path or port follows. */
export type PlaceVisitor = (kind: Place['kind'], text: string, path: boolean) => void;

/**
 * Every place a text names (URLs in every form a client library accepts, emails, bare host names by the Public
 * Suffix List, dotted-quad IPs), by one linear scan: each place is handed to `visit` as it is found, in the same order, and
 * nothing is kept (a 1 MB token of URL starts makes 250k places: collected, they outlive the young
 * generation and the scan's cost per character grows with the text).
 */
export function visitPlaces(text: string, asDestination: boolean, visit: PlaceVisitor): void {
  if (!mayNamePlace(text)) return;
  const n = text.length;
  for (let i = 0; i < n;) {
    if (isDelim(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const s = i;
    for (;;) {
      while (i < n && !isDelim(text.charCodeAt(i))) i++;
      // A bracketed IPv6 host (`http://[::1]/`, `//[2001:db8::1]:80`, `user@[::1]`) stays in its URL.
      const close = i < n && i - s >= 2 ? ipv6Close(text, i) : -1;
      if (close < 0) break;
      i = close + 1;
    }
    scanToken(text, s, i, visit, asDestination);
  }
}

// Inside the brackets: hex digits, `:` and `.` (an embedded IPv4), and `%` with a zone id.
const IPV6 = asciiTable((c) => isAlnum(c) || c === 58 || c === 46 || c === 37 || c === 45 || c === 95);

/** `[` at `at` opening an IPv6 literal right after `//`, `\\` or `@`: the index of its `]`, else -1 (bounded look-ahead). */
function ipv6Close(text: string, at: number): number {
  if (text.charCodeAt(at) !== 91) return -1;
  const prev = text.charCodeAt(at - 1);
  if (!(prev === 64 || (isSlash(prev) && isSlash(text.charCodeAt(at - 2))) || prev === 58)) return -1;
  for (let j = at + 1; j < text.length && j - at <= 64; j++) {
    const c = text.charCodeAt(j);
    if (c === 93) return j > at + 1 ? j : -1;
    if (c >= 128 || IPV6[c] !== 1) return -1;
  }
  return -1;
}

/**
 * Whether a text can name a place at all: every URL needs `:/`, a special scheme or `file` and `:`,
 * two slashes or `www.`; every email `@`; every bare host or IP a dot between two host characters.
 */
function mayNamePlace(text: string): boolean {
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 64) return true;
    if (c === 58 && (isSlash(text.charCodeAt(i + 1)) || specialBefore(text, i) || fileBefore(text, i)))
      return true;
    if ((c === 47 || c === 92) && isSlash(text.charCodeAt(i - 1))) return true;
    if (
      c === 46 &&
      i + 1 < text.length &&
      isHostChar(text.charCodeAt(i - 1)) &&
      isHostChar(text.charCodeAt(i + 1))
    )
      return true;
  }
  return false;
}

/** Whether `file` ends right before `colon` (`file:etc/passwd`). */
const fileBefore = (text: string, colon: number): boolean =>
  colon >= 4 && text.slice(colon - 4, colon).toLowerCase() === 'file';

/** Whether a special scheme name (`http`, `ws`...) ends right before `colon`. */
function specialBefore(text: string, colon: number): boolean {
  let b = colon;
  while (b > 0 && colon - b < 5 && isAsciiLetter(text.charCodeAt(b - 1))) b--;
  return SPECIAL.has(text.slice(b, colon).toLowerCase());
}

// Email spans of the token being scanned (flat start, end pairs), reused from token to token.
const emailSpans: number[] = [];

function scanToken(text: string, s: number, e: number, visit: PlaceVisitor, asDestination: boolean): void {
  if (e - s < 4) return;
  const starts = urlStarts(text, s, e);
  // Each URL runs to the next one's start, the last to the token's end: together they cover [starts[0], e).
  for (let k = 0; k < starts.length; k++) {
    const b = starts[k]!;
    const end = k + 1 < starts.length ? starts[k + 1]! : e;
    visit('url', text.slice(b, end), false);
  }
  emailSpans.length = 0;
  let at = s;
  while (at < e && text.charCodeAt(at) !== 64) at++;
  if (at < e) emailsIn(text, at, s, e, visit, emailSpans);
  bareIn(text, s, e, visit, starts.length > 0 ? starts[0]! : -1, emailSpans, asDestination);
}
