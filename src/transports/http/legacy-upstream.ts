import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

const send = (target: URL) => (target.protocol === 'https:' ? httpsRequest : httpRequest);

/** A legacy SSE upstream as the carrier calls it: its stream and its endpoint, nothing decided here. */
export interface LegacyUpstream {
  /** `GET` the upstream SSE endpoint (`host`: the client's Host header, passed on). */
  openStream(url: URL, host: string | undefined): Promise<IncomingMessage>;
  /** `POST` one message (or batch) to the endpoint upstream named; resolves with the upstream status. */
  post(
    endpoint: URL,
    text: string,
    host: string | undefined,
    trace?: Record<string, string>,
  ): Promise<number>;
}

export function legacyUpstream(headers: Readonly<Record<string, string>> = {}): LegacyUpstream {
  return {
    openStream: (url, host) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const h: Record<string, string> = { ...headers, accept: 'text/event-stream' };
        if (host) h.host = host;
        const r = send(url)(url, { method: 'GET', headers: h }, resolve);
        r.on('error', reject);
        r.end();
      }),
    post: (endpoint, text, host, trace = {}) =>
      new Promise<number>((resolve, reject) => {
        const h: Record<string, string> = {
          ...headers,
          ...trace,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
        };
        if (host) h.host = host;
        const up = send(endpoint)(endpoint, { method: 'POST', headers: h }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 502);
        });
        up.on('error', reject);
        up.end(text);
      }),
  };
}
