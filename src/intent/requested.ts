/**
 * Does the approved purpose ask for what a tool does? The purpose is part of the approval: "Send an SMS
 * to my friends" asks for a tool whose name says it sends SMS even when the approval's tool list names
 * another. A tool is requested when a word of its action — the verb of its name and the words after it
 * (a namespace before the verb does not count), or a lead verb of its description — is a word of the
 * purpose, compared by stem (`tweets`/`tweet`, `shipping`/`shipment`, `donate`/`donation`). Words that
 * say nothing about the action (`manage`, `make`, `item`, `details`, `account`…) never match. No tool
 * name, task or phrase of any corpus is listed: only English morphology and generic words.
 */
import { actionWords } from '../analyze/categories.js';

// Words too generic to say what was asked for.
const GENERIC = new Set(
  (
    'get set make manage handle do use run go new the and for with from into item items detail details info ' +
    'information data state status record records result results value values list type types entry entries ' +
    'object objects thing things system service tool api account accounts user users current existing ' +
    'specific specified given unique identifier id ids number numbers name names option options request'
  ).split(' '),
);

// Longest first; `donation` and `donate` both give `donat`.
const SUFFIXES: readonly (readonly [string, string])[] = [
  ['ations', 'at'],
  ['ation', 'at'],
  ['ments', ''],
  ['ment', ''],
  ['ings', ''],
  ['ing', ''],
  ['ions', ''],
  ['ion', ''],
  ['ies', 'y'],
  ['es', ''],
  ['ed', ''],
  ['s', ''],
  ['e', ''],
];

/** A crude English stem: `shipping` → ship, `donation` → donat, `tweets` → tweet, `invested` → invest. */
export function stemWord(word: string): string {
  let w = word.toLowerCase();
  for (const [suffix, by] of SUFFIXES)
    if (w.length - suffix.length >= 3 && w.endsWith(suffix)) {
      w = w.slice(0, -suffix.length) + by;
      break;
    }
  // A doubled final consonant (`shipp`, `planned` → plann) is one.
  if (w.length > 3 && w[w.length - 1] === w[w.length - 2] && !'aeiou'.includes(w[w.length - 1]!))
    w = w.slice(0, -1);
  return w;
}

const CACHE_LIMIT = 512;
const purposeCache = new Map<string, ReadonlySet<string>>();
const toolCache = new Map<string, { readonly description: string; readonly stems: readonly string[] }>();

function remember<V>(cache: Map<string, V>, key: string, make: () => V): V {
  let v = cache.get(key);
  if (v === undefined) {
    v = make();
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, v);
  }
  return v;
}

function purposeStems(purpose: string): ReadonlySet<string> {
  return remember(purposeCache, purpose, () => {
    const out = new Set<string>();
    for (const w of purpose.toLowerCase().split(/[^a-z0-9]+/))
      if (w.length >= 3 && !GENERIC.has(w)) out.add(stemWord(w));
    return out;
  });
}

function toolStems(name: string, description: string): readonly string[] {
  // Keyed by name (no string built per call); a changed description recomputes.
  const hit = toolCache.get(name);
  if (hit && hit.description === description) return hit.stems;
  const stems = [
    ...new Set(
      actionWords(name, description)
        .filter((w) => w.length >= 3 && !GENERIC.has(w))
        .map(stemWord),
    ),
  ];
  if (!hit && toolCache.size >= CACHE_LIMIT) toolCache.delete(toolCache.keys().next().value!);
  toolCache.set(name, { description, stems });
  return stems;
}

/**
 * True when the approved purpose asks for what the tool does (see the module comment).
 * @example requestedBy('Send an SMS to my friends', 'AcmeTextSendSms', 'Send an SMS message.') // true
 * @example requestedBy('Summarise my notes', 'AcmeTextSendSms', 'Send an SMS message.') // false
 */
export function requestedBy(purpose: string, name: string, description = ''): boolean {
  if (!purpose) return false;
  const wanted = purposeStems(purpose);
  return toolStems(name, description).some((w) => wanted.has(w));
}
