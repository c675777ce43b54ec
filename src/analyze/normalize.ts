/**
 * Text as an injection detector should read it: what a model reads, not what the bytes spell. NFKC
 * (full-width and mathematical letters become plain ones), invisible characters removed (zero-width
 * spaces and joiners, soft hyphens, bidi controls), Unicode tag characters (U+E0020–E007E, invisible
 * ASCII) decoded and appended, Latin look-alikes from other scripts folded (Cyrillic `о` → `o`) in a
 * variant of the text, and base64 runs that decode to text appended. One pass per step: linear.
 */

// Latin look-alikes (prototype → Latin) from Unicode's confusables.txt (UTS #39), Cyrillic and Greek
// letters whose skeleton is a single Latin letter. NFKC handles full-width and mathematical forms.
const CONFUSABLES: Readonly<Record<string, string>> = {
  // Cyrillic lower case
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  һ: 'h',
  і: 'i',
  ї: 'i',
  ј: 'j',
  к: 'k',
  ӏ: 'l',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ү: 'y',
  ɡ: 'g',
  ո: 'n',
  ս: 'u',
  // Cyrillic upper case
  А: 'A',
  В: 'B',
  Е: 'E',
  Ё: 'E',
  Һ: 'H',
  І: 'I',
  Ї: 'I',
  Ј: 'J',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  У: 'Y',
  Х: 'X',
  Ѕ: 'S',
  Ԁ: 'D',
  Ԛ: 'Q',
  Ԝ: 'W',
  Ү: 'Y',
  Ӏ: 'I',
  // Greek
  α: 'a',
  ο: 'o',
  ρ: 'p',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  υ: 'u',
  χ: 'x',
  γ: 'y',
  ε: 'e',
  τ: 't',
  Α: 'A',
  Β: 'B',
  Ε: 'E',
  Ζ: 'Z',
  Η: 'H',
  Ι: 'I',
  Κ: 'K',
  Μ: 'M',
  Ν: 'N',
  Ο: 'O',
  Ρ: 'P',
  Τ: 'T',
  Υ: 'Y',
  Χ: 'X',
};

/** Invisible code points a model reads through: zero-width, joiners, soft hyphen, bidi controls, BOM. */
export const invisible = (cp: number): boolean =>
  cp === 0x00ad ||
  cp === 0x034f ||
  cp === 0x061c ||
  cp === 0x180e ||
  (cp >= 0x200b && cp <= 0x200f) ||
  (cp >= 0x202a && cp <= 0x202e) ||
  (cp >= 0x2060 && cp <= 0x2064) ||
  (cp >= 0x2066 && cp <= 0x206f) ||
  cp === 0xfeff ||
  (cp >= 0xfe00 && cp <= 0xfe0f);

/** Limits: base64 runs decoded per text, and decoded characters kept. */
const DECODE_LIMITS = { runs: 16, chars: 64 * 1024, minRun: 20 } as const;

const B64 = (c: number) =>
  (c >= 65 && c <= 90) ||
  (c >= 97 && c <= 122) ||
  (c >= 48 && c <= 57) ||
  c === 43 ||
  c === 47 ||
  c === 45 ||
  c === 95;

/** Base64 (or base64url) runs of `text` that decode to mostly printable text, decoded. */
function decodedBase64Runs(text: string): string[] {
  const out: string[] = [];
  let kept = 0;
  for (let i = 0; i < text.length && out.length < DECODE_LIMITS.runs && kept < DECODE_LIMITS.chars;) {
    if (!B64(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && B64(text.charCodeAt(j))) j++;
    let end = j;
    while (end < text.length && text.charCodeAt(end) === 61 && end - j < 2) end++; // '=' padding
    if (j - i >= DECODE_LIMITS.minRun) {
      const decoded = Buffer.from(text.slice(i, j), 'base64').toString('utf8');
      if (printable(decoded)) {
        const part = decoded.slice(0, DECODE_LIMITS.chars - kept);
        out.push(part);
        kept += part.length;
      }
    }
    i = end;
  }
  return out;
}

/** Mostly letters, spaces and punctuation, with at least one space: words, not binary. */
function printable(s: string): boolean {
  if (s.length < 8 || !s.includes(' ')) return false;
  let bad = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0xfffd || (c < 32 && c !== 10 && c !== 13 && c !== 9)) bad++;
  }
  return bad <= s.length / 20;
}

/**
 * The readings of a text to scan: the text itself normalized (and any decoded hidden or encoded text
 * appended), and, when it has look-alike letters, the same with them folded to Latin.
 * @example normalizedVariants('іgnоrе\u200b all').join('|') // 'іgnоrе all|ignore all'
 */
export function normalizedVariants(text: string): string[] {
  let ascii = true;
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) > 0x7e) {
      ascii = false;
      break;
    }
  if (ascii) {
    const decoded = decodedBase64Runs(text);
    return [decoded.length > 0 ? `${text}\n${decoded.join('\n')}` : text];
  }
  let visible = '',
    tags = '',
    folded = '',
    confusable = false;
  for (const ch of text.normalize('NFKC')) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xe0000 && cp <= 0xe007f) {
      if (cp >= 0xe0020 && cp <= 0xe007e) tags += String.fromCharCode(cp - 0xe0000);
      continue;
    }
    if (invisible(cp)) continue;
    visible += ch;
    const f = CONFUSABLES[ch];
    if (f !== undefined) confusable = true;
    folded += f ?? ch;
  }
  const extra = [tags, ...decodedBase64Runs(visible)].filter(Boolean).join('\n');
  const withExtra = (s: string) => (extra ? `${s}\n${extra}` : s);
  return confusable ? [withExtra(visible), withExtra(folded)] : [withExtra(visible)];
}
