// The console's one escaping helper. Everything it shows from the record (tool names, purposes,
// reasons, arguments, identities) was written by agents and servers: attacker-controlled text. Pages
// are built only with the `html` template below, which escapes every interpolated value unless it is
// itself markup built by `html`; no page code concatenates strings into markup.

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '=': '&#61;',
};

/** Markup built by {@link html}: safe to embed as is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/**
 * Escape any value for an HTML text node or a quoted attribute value: `& < > " ' \` =` become
 * entities, so nothing can open a tag, close an attribute or start an event handler. Non-strings are
 * shown as JSON. C0 controls other than tab and newline are shown as `\uXXXX`.
 * @example esc('<script>') // '&lt;script&gt;'
 */
export function esc(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const code = text.charCodeAt(i);
    const entity = ENTITIES[ch];
    if (entity) out += entity;
    else if ((code < 0x20 && code !== 9 && code !== 10) || code === 0x7f)
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/**
 * A tagged template for markup: literal parts are the page's own, every `${value}` is escaped with
 * {@link esc} (an array is joined, each element escaped unless it is `Html`).
 * @example html`<td>${row.tool}</td>`
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1]!;
  return new Html(out);
}

function part(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

/**
 * A link to one of the console's own pages: a path starting with a single `/` whose query values are
 * percent-encoded. Never a URL from the record (a `javascript:` URL in an argument stays text).
 */
export function href(path: string, query: Record<string, string | number | undefined> = {}): string {
  if (!path.startsWith('/') || path.startsWith('//')) throw new Error(`not a console path: ${path}`);
  const q = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return q ? `${path}?${q}` : path;
}

/** One path segment (a session or approval id) for a console link. */
export const seg = (id: string): string => encodeURIComponent(id);
