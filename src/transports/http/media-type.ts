/**
 * A `Content-Type` value parsed as a media type (RFC 9110 §8.3.1): `type "/" subtype *( OWS ";" OWS
 * name "=" value )`, each value a token or a quoted string. A hand scanner: linear, no regex.
 */
interface MediaType {
  /** `type/subtype`, lower case. */
  readonly essence: string;
  /** Parameter names lower case; values as given (quotes and escapes removed). A repeated name is kept twice. */
  readonly params: readonly (readonly [string, string])[];
}

// RFC 9110 tchar: visible ASCII except the delimiters "(),/:;<=>?@[\]{}
const DELIMITERS = '"(),/:;<=>?@[\\]{}';
const isTchar = (c: number) => c > 0x20 && c < 0x7f && !DELIMITERS.includes(String.fromCharCode(c));
const isOws = (c: number) => c === 0x20 || c === 0x09;

/**
 * Parse a media type; undefined when the value is not one (a browser's `text/plain; x=application/json`
 * parses, as `text/plain`, so a substring test cannot be fooled).
 * @example parseMediaType('application/json; charset=UTF-8') // { essence: 'application/json', params: [['charset', 'UTF-8']] }
 */
function parseMediaType(value: string): MediaType | undefined {
  let i = 0;
  const token = (): string => {
    const start = i;
    while (i < value.length && isTchar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  const skipOws = () => {
    while (i < value.length && isOws(value.charCodeAt(i))) i++;
  };
  skipOws();
  const type = token();
  if (!type || value[i] !== '/') return undefined;
  i++;
  const subtype = token();
  if (!subtype) return undefined;
  const params: [string, string][] = [];
  for (;;) {
    skipOws();
    if (i === value.length) break;
    if (value[i] !== ';') return undefined;
    i++;
    skipOws();
    if (i === value.length) break;
    const name = token();
    if (!name || value[i] !== '=') return undefined;
    i++;
    let v: string;
    if (value[i] === '"') {
      i++;
      v = '';
      for (;;) {
        if (i >= value.length) return undefined;
        const c = value[i]!;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          if (i + 1 >= value.length) return undefined;
          v += value[i + 1];
          i += 2;
          continue;
        }
        v += c;
        i++;
      }
    } else {
      v = token();
      if (!v) return undefined;
    }
    params.push([name.toLowerCase(), v]);
  }
  return { essence: `${type.toLowerCase()}/${subtype.toLowerCase()}`, params };
}

/**
 * Is this the `Content-Type` of a JSON-RPC body? Exactly `application/json`, with no parameter but
 * an optional single `charset=utf-8` (MCP messages are UTF-8). Returns the reason when it is not.
 */
export function jsonContentTypeProblem(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return 'no Content-Type (POST bodies must be application/json)';
  const m = parseMediaType(value);
  if (!m) return `Content-Type "${value}" is not a media type`;
  if (m.essence !== 'application/json') return `Content-Type ${m.essence} is not application/json`;
  for (const [name, v] of m.params) {
    if (name !== 'charset') return `Content-Type parameter "${name}" is not accepted (only charset=utf-8)`;
    if (v.toLowerCase() !== 'utf-8') return `charset ${v} is not accepted (MCP messages are UTF-8)`;
  }
  if (m.params.length > 1) return 'charset is given more than once';
  return undefined;
}
