/**
 * Every value of a few request headers, by lower-case name, from `rawHeaders` — what
 * `req.headersDistinct` gives for them (a header sent twice has two values), without that getter
 * building an array for every header of every request.
 * @example distinctHeaders(req.rawHeaders, ['host', 'origin']) // { host: ['127.0.0.1:8080'] }
 */
export function distinctHeaders(raw: readonly string[], names: readonly string[]): NodeJS.Dict<string[]> {
  const out: NodeJS.Dict<string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!;
    for (const name of names)
      if (n.length === name.length && n.toLowerCase() === name) (out[name] ??= []).push(raw[i + 1]!);
  }
  return out;
}
