import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { urlToHttpOptions } from 'node:url';

/** An HTTP endpoint intentguard sends requests to, its URL parsed once (not once per request). */
export type HttpTarget = (
  method: string,
  headers: Readonly<Record<string, string>>,
  onResponse: (response: IncomingMessage) => void,
) => ClientRequest;

/**
 * A request function for `url` (http: or https:, on the global keep-alive agent): the URL's parts are
 * taken apart here, once; a request per call spreads them instead of building and parsing a `URL`.
 * @example httpTarget(new URL('http://127.0.0.1:8080/mcp'))('POST', { accept: 'application/json' }, onResponse)
 */
export function httpTarget(url: URL): HttpTarget {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const parts = urlToHttpOptions(url);
  return (method, headers, onResponse) => send({ ...parts, method, headers }, onResponse);
}
