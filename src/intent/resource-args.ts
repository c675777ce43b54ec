import { wordList } from './sensitive.js';
import { isObject } from '../jsonrpc/message.js';

/** A resource an argument names: a filesystem path or a URL. */
export interface NamedResource {
  /** Where in the arguments: `path`, `paths[1]`, `edits[0].file`. */
  readonly arg: string;
  readonly kind: 'path' | 'url';
  readonly value: string;
}

/** What {@link resourcesOf} found; `complete` is false when the arguments were too large or deep to read fully. */
export interface ResourceScan {
  readonly resources: NamedResource[];
  readonly complete: boolean;
}

/** Words that, as the last word of an argument name, say it names a location. */
const PATH_WORDS = new Set([
  'path',
  'paths',
  'pathname',
  'file',
  'files',
  'filename',
  'filenames',
  'filepath',
  'filepaths',
  'dir',
  'dirs',
  'directory',
  'directories',
  'folder',
  'folders',
  'src',
  'source',
  'sources',
  'dest',
  'destination',
  'root',
  'cwd',
  'location',
  'uri',
  'uris',
  'url',
  'urls',
]);
/** Words in a property description that say the property is a location. */
const DESCRIPTION_WORDS = new Set([
  'path',
  'paths',
  'filepath',
  'filename',
  'filenames',
  'directory',
  'directories',
  'folder',
  'uri',
  'url',
]);
/** Argument names that carry content, never a location (their text may mention paths). */
const CONTENT_WORDS = new Set([
  'content',
  'contents',
  'text',
  'body',
  'message',
  'messages',
  'data',
  'query',
  'pattern',
  'patterns',
  'comment',
  'description',
  'title',
  'subject',
  'note',
  'notes',
  'prompt',
  'code',
  'script',
  'command',
  'old',
  'new',
  'oldtext',
  'newtext',
  'value',
  'input',
  'summary',
  'reason',
  'html',
  'markdown',
  'diff',
  'patch',
  'excludepatterns',
  'glob',
  'regex',
]);
const URI_FORMATS = new Set(['uri', 'uri-reference', 'iri', 'iri-reference', 'url', 'path', 'file-path']);
const MAX_STRINGS = 4096;
const MAX_DEPTH = 32;
const MAX_VALUE = 4096;

/** The words of an identifier: `filePath` → file, path; `source_dir` → source, dir. Hand scanner. */
function words(name: string): string[] {
  const out: string[] = [];
  let cur = '';
  let prevLower = false;
  for (let i = 0; i < name.length && i < 256; i++) {
    const c = name[i]!;
    const lower = c.toLowerCase();
    const isLetter = lower !== c.toUpperCase();
    const isDigit = c >= '0' && c <= '9';
    if (!isLetter && !isDigit) {
      if (cur) out.push(cur);
      cur = '';
      prevLower = false;
      continue;
    }
    const isUpper = isLetter && c !== lower;
    // `filePath` splits before `P`; `URLPath` stays one word per run of capitals.
    if (isUpper && prevLower && cur) {
      out.push(cur);
      cur = '';
    }
    prevLower = !isUpper;
    cur += lower;
  }
  if (cur) out.push(cur);
  return out;
}

/** What an argument name says on its own: content, a location, or neither. Cached per name (bounded). */
type KeyClass = 'content' | 'location' | 'other';
const keyClasses = new Map<string, KeyClass>();

function keyClass(key: string): KeyClass {
  let c = keyClasses.get(key);
  if (c !== undefined) return c;
  const w = words(key);
  const joined = w.join('');
  const last = w.length > 0 ? w[w.length - 1]! : '';
  c =
    CONTENT_WORDS.has(joined) || CONTENT_WORDS.has(last)
      ? 'content'
      : PATH_WORDS.has(last) || PATH_WORDS.has(joined)
        ? 'location'
        : 'other';
  if (keyClasses.size < 4096) keyClasses.set(key, c);
  return c;
}

/** Does a property's JSON schema (or its items') say it is a location: a URI format, or a description naming a path? Cached per schema object. */
const schemaSays = new WeakMap<object, boolean>();

function schemaNamesLocation(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  let r = schemaSays.get(schema);
  if (r !== undefined) return r;
  r = false;
  const item = isObject(schema.items) ? schema.items : undefined;
  for (const node of [schema, item]) {
    if (!node || r) continue;
    if (typeof node.format === 'string' && URI_FORMATS.has(node.format.toLowerCase())) r = true;
    else if (typeof node.description === 'string') {
      const d = new Set(wordList(node.description));
      for (const x of DESCRIPTION_WORDS) if (d.has(x)) r = true;
    }
  }
  schemaSays.set(schema, r);
  return r;
}

/** Does the schema or the name say this property names a location (and not content)? */
function namesLocation(key: string, schema: unknown): boolean {
  const c = keyClass(key);
  return c === 'location' || (c === 'other' && schemaNamesLocation(schema));
}

const URL_START = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A value that is unmistakably a path or URL on its own (absolute, home- or dot-relative, a drive, UNC, file:). */
function looksLikeLocation(v: string): 'path' | 'url' | undefined {
  if (v.length < 2 || v.length > MAX_VALUE) return undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 32 || c === 0x7f) return undefined;
  }
  if (/^file:/i.test(v)) return 'path';
  if (URL_START.test(v)) return 'url';
  if (
    v[0] === '/' ||
    v[0] === '\\' ||
    v.startsWith('~/') ||
    v.startsWith('./') ||
    v.startsWith('../') ||
    v.startsWith('.\\') ||
    v.startsWith('..\\')
  )
    return 'path';
  if (/^[a-z]:[\\/]/i.test(v)) return 'path';
  // A relative path to a file: segments joined by a separator, the last one a file name (`private/secret.env`).
  const sep = Math.max(v.lastIndexOf('/'), v.lastIndexOf('\\'));
  if (sep > 0 && sep < v.length - 1 && v.indexOf('.', sep + 1) >= 0) return 'path';
  return undefined;
}

/** A location-named value: a URL when it parses as one with a host, else a path. */
const kindOfNamed = (v: string): 'path' | 'url' => (URL_START.test(v) && !/^file:/i.test(v) ? 'url' : 'path');

const propertySchema = (schema: unknown, key: string): unknown => {
  if (!isObject(schema)) return undefined;
  if (isObject(schema.properties) && key in schema.properties)
    return (schema.properties as Record<string, unknown>)[key];
  return isObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
};

/**
 * Every path and URL a tool call's arguments name, whatever the tool is called: an argument whose name,
 * JSON-schema format or description says it is a location (`path`, `paths`, `source`, `destination`,
 * `format: uri`, "the directory to list"), and any other non-content value that is on its own an
 * absolute, home- or dot-relative path, a relative path to a file (`private/secret.env`), a drive or
 * UNC path, or a URL.
 * @example resourcesOf({ paths: ['a.txt', '/etc/passwd'] }, schema).resources
 */
export function resourcesOf(args: Readonly<Record<string, unknown>>, inputSchema?: unknown): ResourceScan {
  const resources: NamedResource[] = [];
  let strings = 0;
  let complete = true;
  const walk = (
    v: unknown,
    schema: unknown,
    where: string,
    named: boolean,
    content: boolean,
    depth: number,
  ): void => {
    if (depth > MAX_DEPTH) {
      complete = false;
      return;
    }
    if (typeof v === 'string') {
      if (++strings > MAX_STRINGS) {
        complete = false;
        return;
      }
      if (v === '') return;
      if (named) resources.push({ arg: where, kind: kindOfNamed(v), value: v });
      else if (!content) {
        const kind = looksLikeLocation(v);
        if (kind) resources.push({ arg: where, kind, value: v });
      }
    } else if (Array.isArray(v)) {
      const items = isObject(schema) ? schema.items : undefined;
      for (let i = 0; i < v.length; i++) walk(v[i], items, `${where}[${i}]`, named, content, depth + 1);
    } else if (isObject(v)) {
      for (const k of Object.keys(v)) {
        const ps = propertySchema(schema, k);
        const isContent = content || keyClass(k) === 'content';
        walk(v[k], ps, where ? `${where}.${k}` : k, !isContent && namesLocation(k, ps), isContent, depth + 1);
      }
    }
  };
  walk(args, inputSchema, '', false, false, 0);
  return { resources, complete };
}
