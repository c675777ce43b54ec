/**
 * Pathological inputs for the text analysers: runs of the characters each analysis pattern repeats on
 * (issue 11 §1). Shared by test/adversarial/linear-analysis.test.ts and `npm run bench -- rules`.
 */
import { actionWords, nameWords, profileTool } from '../../src/analyze/categories.js';
import { detectInjection } from '../../src/analyze/injection.js';
import { decodedLayers, nothingToDecode } from '../../src/analyze/decode.js';
import { labelText, labelValues } from '../../src/analyze/labels.js';
import { ProvenanceIndex } from '../../src/analyze/provenance.js';
import { extractTargets } from '../../src/analyze/targets.js';
import { printable } from '../../src/lib/printable.js';
import { redactValue, renderMessage } from '../../src/rules/template.js';

/** Repeated units: the character classes each pattern (old and new) loops on, alone and mixed. */
export const SHAPES: Readonly<Record<string, string>> = {
  newlines: '\n',
  spaces: ' ',
  tabs: '\t',
  'hash lines': '\n#',
  hash: '#',
  'to + spaces': 'to  ',
  'a.': 'a.',
  dots: '.',
  at: '@',
  'a@': 'a@',
  'a@a.': 'a@a.',
  'x.y@': 'x.y@',
  digits: '1',
  'digit-dash': '1-',
  'digit-space': '1 ',
  dashes: '-',
  'digit-dot': '1.',
  quad: '0.0.',
  letters: 'a',
  upper: 'A',
  'iban-ish': 'AA11',
  'upper-digit-space': 'A1 ',
  'http:': 'http:',
  slashes: '//',
  backslashes: '\\',
  'www.': 'www.',
  'scheme-ish': 'a:',
  'a-': 'a-',
  percent: '%41',
  'base64-ish': 'QUJD',
  'hex-ish': 'ab',
  equals: '=',
  colons: ':',
  ignore: 'ignore ',
  bearer: 'Bearer ',
  'sk-': 'sk-',
  eyJ: 'eyJ.',
  'password=': 'password=',
  braces: '{{',
  mixed: '.@-1 aA:/\n%#=_',
  // Unicode and the escape forms the decoder reads (audit re-probe): accents, zero-width joins,
  // full-width letters, surrogate pairs, and runs of escapes and character codes.
  accented: 'é',
  'zero-width': 'a\u200b',
  'full-width': 'Ａ１',
  emoji: '😀',
  'escapes \\u': '\\u0041',
  'entities &#': '&#65;',
  '0x bytes': '0x41,',
  'char codes': '65, ',
  'qp =XX': '=41',
  'b64 groups': 'QUJD ',
  // Bracketed IPv6 hosts (each `[` after `//` or `@` looks ahead for its `]`, at most 64 characters).
  ipv6: 'http://[::1]/',
  'open brackets': '@[aaaa:',
};

// Opens every text so that each analyser's cheap pre-checks pass and its patterns really run on the
// run that follows (`'q.qq ' + 'a.'.repeat(n)` is what made the old bare-domain pattern quadratic).
const PRIMER = 'hello to q.qq a@b.cc http://x.yy www.x 1.2.3.4 AA11 1234 password token ## system\n';

/** A text of `size` characters: the primer, then `unit` repeated, ending in `tag` (distinct texts defeat memo caches). */
export function shaped(unit: string, size: number, tag = ''): string {
  return (
    PRIMER + unit.repeat(Math.ceil(size / unit.length)).slice(0, size - tag.length - PRIMER.length) + tag
  );
}

const source = { call: 0, tool: 'read', seq: 0, time: 0, injected: false, sensitivity: 'public' } as const;

/** Every exported analysis entry point that message text reaches, as one-argument functions. */
export const ENTRY_POINTS: Readonly<Record<string, (text: string) => unknown>> = {
  extractTargets: (t) => extractTargets(t),
  detectInjection: (t) => detectInjection(t),
  labelText: (t) => labelText(t),
  labelValues: (t) => labelValues([t, t.slice(1)]),
  decodedLayers: (t) => decodedLayers(t),
  // An answer's budget check before delivery (src/rules/context.ts answerOverBudget): decoded only
  // when there may be something to decode.
  'nothingToDecode, else decodedLayers': (t) => nothingToDecode(t) || decodedLayers(t),
  'provenance index + lookup': (t) => {
    const p = new ProvenanceIndex();
    p.add(source, t, []);
    return [p.fragmentSources(t), p.valueSource(t)];
  },
  'redaction (redactValue, renderMessage)': (t) => [
    redactValue({ body: t }, 'evidence', []),
    renderMessage('{{call.args.body}}', { call: { args: { body: t } } }, []),
  ],
  printable: (t) => printable(t),
  // A tool's name and description come from the server's tools/list (or the agent's tools/call): a
  // hostile server names a tool with a long run of capitals (the old camel-case splitter was quadratic).
  'tool names (nameWords, profileTool, actionWords)': (t) => [
    nameWords(t),
    profileTool(t, undefined, t),
    actionWords(t, t),
  ],
};
