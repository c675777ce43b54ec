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

/** Every pattern made so far, to compile on demand (see {@link compileEveryPattern}). */
const everyAutomaton: (() => unknown)[] = [];

/**
 * Build the automaton of every pattern made so far (each group's set included); throws at the first
 * that RE2 cannot compile. For tests: the analyzers build theirs on first use. Returns how many.
 */
export function compileEveryPattern(): number {
  for (const build of everyAutomaton) build();
  return everyAutomaton.length;
}

/**
 * Compile a JavaScript regular expression literal into a linear-time RE2 pattern. The literal is only
 * read for its source and flags (`i`, `m`, `s`); it is never executed, so message content never reaches
 * the backtracking engine. The automaton is built on first use (the analyzers' ≈ 50 patterns took
 * 0.4 s to compile, most of them never needed by a session): a pattern using what RE2 cannot do
 * (backreferences, lookaround) throws then, and test/analyze/linear-patterns.test.ts compiles every
 * analyzer's patterns, so an unsafe one cannot slip in.
 * @example linear(/^\s*#{2,}\s*system\b/im).test('\n## System') // true
 */
export function linear(re: RegExp): LinearPattern {
  const source = re2Source(re);
  let compiled: RE2JS | undefined;
  const automaton = () => (compiled ??= RE2JS.compile(source));
  everyAutomaton.push(automaton);
  return {
    exec: (text) => automaton().exec(text) as LinearMatch | null,
    test: (text) => automaton().test(text),
  };
}

/**
 * A family of linear patterns usually tried one after another on the same text. The first question
 * about a text runs ONE pass of a combined DFA (RE2Set) that answers for every member at once; a member
 * then runs its own automaton only if the set says it occurs (to find where). Prose that matches
 * nothing thus costs one DFA pass, whatever the number of patterns. The set is compiled on the first
 * question, a member's own automaton only when the set says it occurs.
 * @example const L = linearGroup(); const a = L(/\bfoo\b/i), b = L(/bar/); a.test('x bar') // false, one pass
 */
export function linearGroup(): (re: RegExp) => LinearPattern {
  const sources: string[] = [];
  let set: RE2Set | undefined;
  let lastText: string | undefined;
  let lastHits = new Set<number>();
  const combined = (): RE2Set => {
    if (!set) {
      set = new RE2Set(RE2Set.UNANCHORED);
      for (const s of sources) set.add(s);
      set.compile();
    }
    return set;
  };
  everyAutomaton.push(() => sources.length > 0 && combined());
  const hits = (text: string): Set<number> => {
    if (text !== lastText) {
      lastHits = new Set(combined().match(text));
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
