import { RE2JS, RE2Set } from 're2js';

/** A match: `[0]` the matched text, `[1]`… the groups, `index` where it starts. */
type LinearMatch = readonly (string | undefined)[] & { readonly index: number };

/** A compiled pattern that matches in time linear in the input (RE2 automaton, no backtracking). */
export interface LinearPattern {
  /** First match in `text` (the matched text and groups, as `RegExp.exec` gives them, and its start offset), or null. */
  exec(text: string): LinearMatch | null;
  /** Whether the pattern occurs anywhere in `text`. */
  test(text: string): boolean;
}

/** RE2 source for a JavaScript literal, its `i`/`m`/`s` flags carried inline so patterns can share a set. */
const re2Source = (re: RegExp): string => {
  const flags = ['i', 'm', 's'].filter((f) => re.flags.includes(f)).join('');
  const body = RE2JS.translateRegExp(re.source);
  return flags ? `(?${flags})${body}` : body;
};

/**
 * Compile a JavaScript regular expression literal into a linear-time RE2 pattern. The literal is only
 * read for its source and flags (`i`, `m`, `s`); it is never executed, so message content never reaches
 * the backtracking engine. Throws at load time if the pattern uses what RE2 cannot do (backreferences,
 * lookaround), so an unsafe pattern cannot slip in.
 * @example linear(/^\s*#{2,}\s*system\b/im).test('\n## System') // true
 */
export function linear(re: RegExp): LinearPattern {
  const compiled = RE2JS.compile(re2Source(re));
  return {
    exec: (text) => compiled.exec(text) as LinearMatch | null,
    test: (text) => compiled.test(text),
  };
}

/**
 * A family of linear patterns usually tried one after another on the same text. The first question
 * about a text runs ONE pass of a combined DFA (RE2Set) that answers for every member at once; a member
 * then runs its own automaton only if the set says it occurs (to find where). Prose that matches
 * nothing thus costs one DFA pass, whatever the number of patterns.
 * @example const L = linearGroup(); const a = L(/\bfoo\b/i), b = L(/bar/); a.test('x bar') // false, one pass
 */
export function linearGroup(): (re: RegExp) => LinearPattern {
  const sources: string[] = [];
  let set: RE2Set | undefined;
  let lastText: string | undefined;
  let lastHits = new Set<number>();
  const hits = (text: string): Set<number> => {
    if (text !== lastText) {
      if (!set) {
        set = new RE2Set(RE2Set.UNANCHORED);
        for (const s of sources) set.add(s);
        set.compile();
      }
      lastHits = new Set(set.match(text));
      lastText = text;
    }
    return lastHits;
  };
  return (re) => {
    if (set) throw new Error('linearGroup: patterns must all be added before the first match');
    const at = sources.push(re2Source(re)) - 1;
    const own = linear(re);
    return {
      exec: (text) => (hits(text).has(at) ? own.exec(text) : null),
      test: (text) => hits(text).has(at),
    };
  };
}
