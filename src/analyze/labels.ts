import { SENSITIVITY_LEVELS, type Sensitivity } from '../model/intent.js';
import { linearGroup, type LinearPattern } from './linear.js';
import { Memo } from './memo.js';
import { isDigit, isUpper } from './scan.js';

/** Data labels attached to text (tool results, call arguments). */
type DataLabel = 'secret' | 'credential' | 'personal' | 'financial';

interface Detector {
  readonly label: DataLabel;
  readonly name: string;
  readonly re: LinearPattern;
  readonly check?: (m: string) => boolean;
}

const luhn = (digits: string): boolean => {
  let d = '';
  for (let i = 0; i < digits.length; i++) if (isDigit(digits.charCodeAt(i))) d += digits[i];
  if (d.length < 13 || d.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let n = Number(d[d.length - 1 - i]);
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return sum % 10 === 0;
};

// Fixed patterns compiled to RE2 (linear in the text, never run by the backtracking engine), matched as
// one group: text that matches none of them costs one DFA pass.
const re = linearGroup();
const DETECTORS: readonly Detector[] = [
  { label: 'secret', name: 'private-key', re: re(/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/) },
  { label: 'secret', name: 'aws-access-key', re: re(/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/) },
  { label: 'secret', name: 'aws-secret-key', re: re(/\baws_?secret_?access_?key\s*[:=]\s*\S{20,}/i) },
  { label: 'secret', name: 'github-token', re: re(/\bgh[pousr]_[A-Za-z0-9]{30,}\b/) },
  { label: 'secret', name: 'slack-token', re: re(/\bxox[abprs]-[A-Za-z0-9-]{10,}\b/) },
  { label: 'secret', name: 'openai-style-key', re: re(/\bsk-[A-Za-z0-9_-]{20,}\b/) },
  { label: 'secret', name: 'jwt', re: re(/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/) },
  {
    label: 'credential',
    name: 'password-assignment',
    re: re(/\b(?:password|passwd|pwd|passphrase|api[_-]?key|secret|token)\s*[:=]\s*\S{4,}/i),
  },
  { label: 'credential', name: 'bearer', re: re(/\bBearer\s+[A-Za-z0-9._~+/-]{16,}/) },
  { label: 'financial', name: 'iban', re: re(/\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/) },
  { label: 'financial', name: 'card-number', re: re(/\b\d(?:[ -]?\d){12,18}\b/), check: luhn },
  { label: 'personal', name: 'email', re: re(/\b[a-z0-9._%+-]{1,64}@(?:[a-z0-9-]{1,63}\.)+[a-z]{2,63}\b/i) },
  { label: 'personal', name: 'us-ssn', re: re(/\b\d{3}-\d{2}-\d{4}\b/) },
  { label: 'personal', name: 'phone', re: re(/(?:\+\d{1,3}[ .-]?)?\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b/) },
];

export interface LabelReport {
  readonly labels: readonly DataLabel[];
  /** Detector names that fired, e.g. `aws-access-key`. */
  readonly kinds: readonly string[];
  readonly sensitivity: Sensitivity;
}

// Every detector needs one of these; text with none of them skips the detectors (a hand scan plus
// native substring searches, no regex): `@`; two capitals then two digits (IBAN); nine digits or more
// chained by gaps of at most two of ` -.()` (the shortest SSN, phone or card number has such a chain:
// 123-45-6789, 555) 123-4567); or one of the keywords the patterns start with (lower-cased: a superset).
const KEYWORDS = [
  '-----begin',
  'akia',
  'asia',
  'ghp_',
  'gho_',
  'ghu_',
  'ghs_',
  'ghr_',
  'xox',
  'sk-',
  'eyj',
  'pass',
  'pwd',
  'api',
  'secret',
  'token',
  'bearer',
];
const isNumberGap = (c: number): boolean => c === 32 || c === 45 || c === 46 || c === 40 || c === 41;
// The keywords by their first two characters: in an ASCII text, one table lookup per character finds
// where one may start (lower-casing ASCII is `A-Z` to `a-z`); past ASCII, lower-casing may make ASCII
// (the Kelvin sign is `k`), and the text is lower-cased and searched as a whole.
const KEY_PAIRS = new Uint8Array(128 * 128);
for (const k of KEYWORDS) KEY_PAIRS[k.charCodeAt(0) * 128 + k.charCodeAt(1)] = 1;
const lowerAscii = (c: number): number => (isUpper(c) ? c + 32 : c);
const keywordAt = (text: string, at: number): boolean =>
  KEYWORDS.some((k) => {
    if (at + k.length > text.length) return false;
    for (let m = 0; m < k.length; m++)
      if (lowerAscii(text.charCodeAt(at + m)) !== k.charCodeAt(m)) return false;
    return true;
  });
function hinted(text: string): boolean {
  let digits = 0,
    chain = 0,
    gap = 0,
    ascii = true,
    prev = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 64) return true;
    if (c < 128) {
      const l = lowerAscii(c);
      if (KEY_PAIRS[prev * 128 + l] === 1 && keywordAt(text, i - 1)) return true;
      prev = l;
    } else {
      ascii = false;
      prev = 0;
    }
    if (isDigit(c)) {
      chain = (gap <= 2 ? chain : 0) + 1;
      gap = 0;
      if (chain >= 9) return true;
      if (++digits === 2 && i >= 3 && isUpper(text.charCodeAt(i - 2)) && isUpper(text.charCodeAt(i - 3)))
        return true;
    } else {
      digits = 0;
      if (chain > 0 && isNumberGap(c)) gap++;
      else chain = gap = 0;
    }
  }
  if (ascii) return false;
  const lower = text.toLowerCase();
  return KEYWORDS.some((k) => lower.includes(k));
}

const EMPTY: LabelReport = Object.freeze({ labels: [], kinds: [], sensitivity: 'public' });

/**
 * Label a text: secrets, credentials, personal and financial data, and the sensitivity they imply
 * (secret > restricted for credentials > confidential for financial > internal for personal).
 */
export function labelText(text: string): LabelReport {
  if (text.length < 6 || !hinted(text)) return EMPTY;
  const labels = new Set<DataLabel>();
  const kinds: string[] = [];
  for (const d of DETECTORS) {
    if (labels.has(d.label) && d.label !== 'secret') continue;
    // The group's one pass answers test(); only a detector with a check needs the match itself.
    const hit = d.check
      ? (() => {
          const m = d.re.exec(text);
          return m !== null && d.check!(m[0] ?? '');
        })()
      : d.re.test(text);
    if (hit) {
      labels.add(d.label);
      kinds.push(d.name);
    }
  }
  if (labels.size === 0) return EMPTY;
  const sensitivity: Sensitivity = labels.has('secret')
    ? 'secret'
    : labels.has('credential')
      ? 'restricted'
      : labels.has('financial')
        ? 'confidential'
        : 'internal';
  return { labels: [...labels].sort(), kinds, sensitivity };
}

const ASSIGNMENTS = new Set(['aws-secret-key', 'password-assignment']);
/** What follows the first `:`, `=` (an assignment) or space (`Bearer …`), leading spaces dropped. */
function valueAfter(match: string): string {
  let i = 0;
  while (i < match.length && match[i] !== ':' && match[i] !== '=' && match[i] !== ' ') i++;
  while (i < match.length && (match[i] === ':' || match[i] === '=' || match[i] === ' ' || match[i] === '\t'))
    i++;
  return match.slice(i);
}

/**
 * The secret and credential values in a text, as they would leave: the key or token itself, the value
 * of an assignment (`password = …`), the body after a private key's BEGIN line. At most 8 per detector.
 */
export function secretValues(text: string): string[] {
  if (text.length < 6 || !hinted(text)) return [];
  const out: string[] = [];
  for (const d of DETECTORS) {
    if (d.label !== 'secret' && d.label !== 'credential') continue;
    let from = 0;
    for (let n = 0; n < 8 && from < text.length; n++) {
      const m = d.re.exec(from === 0 ? text : text.slice(from));
      if (!m) break;
      const whole = m[0] ?? '';
      const end = from + m.index + whole.length;
      out.push(
        d.name === 'private-key'
          ? text.slice(end, end + 256).trim()
          : ASSIGNMENTS.has(d.name) || d.name === 'bearer'
            ? valueAfter(whole)
            : whole,
      );
      from = end;
    }
  }
  return out;
}

/** Compare two sensitivity levels. */
export function sensitivityRank(s: string): number {
  const i = SENSITIVITY_LEVELS.indexOf(s as Sensitivity);
  return i < 0 ? 0 : i;
}

// Labels of values seen more than once, bounded (see memo.ts): values seen once are not kept.
const memo = new Memo<LabelReport>(8192, labelText);

/** The labels of both reports: their union, and the higher sensitivity. */
function mergeLabels(a: LabelReport, b: LabelReport): LabelReport {
  if (b === EMPTY || b.labels.length === 0) return a;
  if (a === EMPTY || a.labels.length === 0) return b;
  return {
    labels: [...new Set([...a.labels, ...b.labels])].sort(),
    kinds: [...new Set([...a.kinds, ...b.kinds])],
    sensitivity:
      sensitivityRank(b.sensitivity) > sensitivityRank(a.sensitivity) ? b.sensitivity : a.sensitivity,
  };
}

/**
 * Labels of several values (call arguments), each value's labels memoized when it repeats (bounded):
 * the same recipients and paths come back call after call. `once` are values known to be seen once (a
 * trail joined with a call's value): labelled without the memo. `from` is merged into the result.
 */
export function labelValues(
  values: readonly string[],
  once: readonly string[] = [],
  from: LabelReport = EMPTY,
): LabelReport {
  let out = from;
  for (const v of values) out = mergeLabels(out, v.length <= 512 ? memo.get(v) : labelText(v));
  for (const v of once) out = mergeLabels(out, labelText(v));
  return out;
}
