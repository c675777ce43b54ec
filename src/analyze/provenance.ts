import type { Sensitivity } from '../model/intent.js';
import { asciiTable, collapseSpaces, isSpace } from './scan.js';
import type { Target } from './targets.js';

/** Where a piece of data came from: one earlier tool result. */
export interface Source {
  /** Index of the `tools/call` whose result this is (-1 for other server answers). */
  readonly call: number;
  readonly tool: string;
  readonly seq: number;
  readonly time: number;
  /** The result carried instruction-like content. */
  readonly injected: boolean;
  readonly sensitivity: Sensitivity;
}

/** Shingle length: argument text sharing a run of at least SHINGLE + STEP - 1 characters with a result is found. */
const SHINGLE = 16;
const STEP = 4;
/** Bounds per session (see README, "Memory per session"). */
const LIMITS = { shingles: 32_768, tokens: 16_384, targets: 4_096, sources: 1_024 } as const;

// Polynomial rolling hash over SHINGLE characters (mod 2^32): O(1) per offset.
const BASE = 0x01000193;
const BASE_POW = (() => {
  let p = 1;
  for (let i = 0; i < SHINGLE - 1; i++) p = Math.imul(p, BASE);
  return p;
})();

/**
 * Hand the hash of every SHINGLE-long window of `s`, every `step`-th offset, to `visit` (no array: a
 * 1 MB text has 250k windows, and collecting them first makes them outlive the young generation).
 * Hashes are kept in 31 bits, signed (small integers: no heap number per window, as map keys too).
 */
function eachShingle(s: string, step: number, visit: (h: number) => void): void {
  if (s.length < SHINGLE) return;
  let h = 0;
  for (let i = 0; i < SHINGLE; i++) h = (Math.imul(h, BASE) + s.charCodeAt(i)) | 0;
  for (let i = 0; ; i++) {
    if (i % step === 0) visit(h >> 1);
    if (i + SHINGLE >= s.length) break;
    h = (Math.imul(h - Math.imul(s.charCodeAt(i), BASE_POW), BASE) + s.charCodeAt(i + SHINGLE)) | 0;
  }
}

/** Two generations: when the current one is full it becomes the old one and the oldest is dropped. */
class Generational<K, V> {
  private cur = new Map<K, V>();
  private old = new Map<K, V>();
  constructor(private readonly cap: number) {}
  get(k: K): V | undefined {
    return this.cur.get(k) ?? this.old.get(k);
  }
  set(k: K, v: V): void {
    if (this.cur.size >= this.cap / 2) {
      this.old = this.cur;
      this.cur = new Map();
    }
    this.cur.set(k, v);
  }
  get size(): number {
    return this.cur.size + this.old.size;
  }
}

// Token characters: anything but whitespace, quotes, brackets, `,` and `;`.
const BREAK = asciiTable(
  (c) =>
    isSpace(c) ||
    c === 34 ||
    c === 39 ||
    c === 96 ||
    c === 60 ||
    c === 62 ||
    c === 40 ||
    c === 41 ||
    c === 91 ||
    c === 93 ||
    c === 123 ||
    c === 125 ||
    c === 44 ||
    c === 59,
);
const isTokenBreak = (c: number) => (c < 128 ? BREAK[c] === 1 : isSpace(c));

/** Runs of 6+ token characters, cut every 200 (what `/[^\s"'`<>()[\]{},;]{6,200}/g` matches), by a hand scan, each handed to `visit`. */
function eachToken(s: string, visit: (token: string) => void): void {
  for (let i = 0; i < s.length;) {
    if (isTokenBreak(s.charCodeAt(i))) {
      i++;
      continue;
    }
    const b = i;
    while (i < s.length && i - b < 200 && !isTokenBreak(s.charCodeAt(i))) i++;
    if (i - b >= 6) visit(s.slice(b, i));
  }
}

const normalizeText = (s: string) => collapseSpaces(s.toLowerCase());

/**
 * Whether `value` could be one of the tokens {@link ProvenanceIndex.valueSource} looks up: a token has
 * no break character, and lower-casing and collapsing spaces neither add nor remove one, so a value
 * with one (prose, a list) is answered without normalizing it.
 */
export function couldBeToken(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (isTokenBreak(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Per-session index of what earlier tool results contained: their targets (exact, normalized), their
 * tokens (whole values such as `new_password`), and sampled text shingles (fragments). Memory is bounded
 * by {@link LIMITS}; old entries are dropped first. Updated in place: it is the incremental part of the
 * session state, so per-event cost does not grow with session length.
 */
export class ProvenanceIndex {
  private readonly sources: Source[] = [];
  private readonly targets = new Generational<string, number[]>(LIMITS.targets);
  private readonly tokens = new Generational<string, number>(LIMITS.tokens);
  private readonly shingles = new Generational<number, number>(LIMITS.shingles);
  private base = 0;

  /** Record a result: its source, the targets it names and its text. */
  add(source: Source, text: string, targets: Iterable<Target>): void {
    if (this.sources.length >= LIMITS.sources) {
      this.sources.shift();
      this.base++;
    }
    const id = this.base + this.sources.length;
    this.sources.push(source);
    for (const t of targets) {
      const key = `${t.kind}:${t.value}`;
      const list = this.targets.get(key);
      if (list) {
        if (list.length < 8) list.push(id);
      } else this.targets.set(key, [id]);
    }
    const norm = normalizeText(text);
    eachToken(norm, (t) => this.tokens.set(t, id));
    eachShingle(norm, STEP, (h) => this.shingles.set(h, id));
  }

  private source(id: number): Source | undefined {
    return this.sources[id - this.base];
  }

  /** Results that named this target. */
  targetSources(t: Target): Source[] {
    const ids = this.targets.get(`${t.kind}:${t.value}`) ?? [];
    return ids.map((i) => this.source(i)).filter((s): s is Source => s !== undefined);
  }

  /** The result a whole argument value (6+ characters) appeared in as a token, if any. */
  valueSource(value: string): Source | undefined {
    const v = value.trim();
    if (!couldBeToken(v)) return undefined;
    const id = this.tokens.get(normalizeText(v));
    return id === undefined ? undefined : this.source(id);
  }

  /**
   * Results sharing a text fragment with `text`: every offset of the query is checked against the
   * sampled shingles, and a source needs two hits (a shared run of about 24+ characters), which also
   * keeps 32-bit hash collisions from producing false provenance.
   */
  fragmentSources(text: string): Source[] {
    const norm = normalizeText(text);
    const hits = new Map<number, number>();
    if (this.shingles.size === 0) return [];
    eachShingle(norm, 1, (h) => {
      const id = this.shingles.get(h);
      if (id !== undefined) hits.set(id, (hits.get(id) ?? 0) + 1);
    });
    const out: Source[] = [];
    for (const [id, n] of hits) {
      const s = n >= 2 ? this.source(id) : undefined;
      if (s) out.push(s);
    }
    return out;
  }

  get size(): { sources: number; targets: number; tokens: number; shingles: number } {
    return {
      sources: this.sources.length,
      targets: this.targets.size,
      tokens: this.tokens.size,
      shingles: this.shingles.size,
    };
  }
}
