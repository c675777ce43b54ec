import { KEYWORDS, isNumberGap } from './labels.js';
import { KIND, K_B64, K_DIGIT, K_ESCAPE, K_FILLER } from './decode.js';
import { isDigit, isUpper } from './scan.js';

/**
 * Plain text: a value in which neither the decoder nor the label detectors can find anything, read
 * forwards or backwards. Then `decodeUncached(s)` is exactly `[reversed s]`, and `labelText` of `s`
 * and of its reversal is empty (test/analyze/plain.test.ts checks both against the real functions).
 * One light pass; a sufficient condition, not a necessary one (when in doubt it says no, and the
 * caller analyses the text in full): printable ASCII only (no NFKC fold, no invisible filler); no `%`;
 * no run of 16 base64-alphabet characters; fewer than 8 places where an escape or a code list could
 * start; a run of more than 4 characters between fillers (so fillers hide nothing); and none of the
 * label pre-check's hints in either direction: no `@`, no chain of 9 digits, no capital letter beside
 * a digit, no keyword and no reversed keyword.
 */
export function plainText(s: string): boolean {
  const n = s.length;
  if (n < 16) return false;
  let b64 = 0,
    run = 0,
    longest = 0,
    digits = 0,
    escapes = 0,
    chain = 0,
    gap = 0,
    prev = 0,
    prevLower = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x7f || (c < 32 && c !== 9 && c !== 10 && c !== 13)) return false;
    if (c === 37 || c === 64) return false; // `%`, `@`
    // The decoder's classes (decode.ts): its base64 alphabet, its fillers, where an escape may start.
    const k = KIND[c]!;
    if (k & K_B64) {
      if (++b64 >= 16) return false;
    } else b64 = 0;
    if (k & K_FILLER) run = 0;
    else if (++run > longest) longest = run;
    if (k & K_ESCAPE) escapes++;
    if (k & K_DIGIT) {
      digits++;
      if (c === 48 && (s.charCodeAt(i + 1) | 32) === 120) escapes++;
      chain = (gap <= 2 ? chain : 0) + 1;
      gap = 0;
      if (chain >= 9) return false;
      if (isUpper(prev)) return false;
    } else {
      if (digits === 2 || digits === 3) escapes++;
      digits = 0;
      if (chain > 0 && isNumberGap(c)) gap++;
      else chain = gap = 0;
      if (isUpper(c) && isDigit(prev)) return false;
    }
    const lower = isUpper(c) ? c + 32 : c;
    const pair = prevLower * 128 + lower;
    if (FORWARD[pair] === 1 && keywordAt(s, i - 1, 1)) return false;
    if (BACKWARD[pair] === 1 && keywordAt(s, i, -1)) return false;
    prev = c;
    prevLower = lower;
  }
  if (digits === 2 || digits === 3) escapes++;
  return escapes < 8 && longest > 4;
}

// Keywords by their first two characters, read forwards (at i-1, i) and backwards (at i, i-1).
const FORWARD = new Uint8Array(128 * 128);
const BACKWARD = new Uint8Array(128 * 128);
for (const k of KEYWORDS) {
  FORWARD[k.charCodeAt(0) * 128 + k.charCodeAt(1)] = 1;
  BACKWARD[k.charCodeAt(1) * 128 + k.charCodeAt(0)] = 1;
}
/** Does a keyword start at `at`, read in direction `dir` (ASCII lower-cased)? */
function keywordAt(s: string, at: number, dir: 1 | -1): boolean {
  return KEYWORDS.some((k) => {
    const end = at + dir * (k.length - 1);
    if (end < 0 || end >= s.length) return false;
    for (let m = 0; m < k.length; m++) {
      const c = s.charCodeAt(at + dir * m);
      if ((isUpper(c) ? c + 32 : c) !== k.charCodeAt(m)) return false;
    }
    return true;
  });
}
