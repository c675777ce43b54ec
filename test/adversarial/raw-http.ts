import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** `error.data.code` of a JSON-RPC error body, when there is one. */
  readonly code: string | undefined;
}

/**
 * One HTTP request with exactly the headers given (a browser's `Origin`, a rebinding `Host`, two
 * `Content-Type` lines): node:http, because fetch will not send some of them. An event-stream answer
 * is read until its first event only.
 */
export function raw(
  url: string,
  o: { method?: string; headers?: Record<string, string | string[]>; body?: string; noHost?: boolean } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string | string[]> = { ...(o.headers ?? {}) };
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: o.method ?? 'POST',
        headers,
        setHost: !o.noHost && headers.host === undefined && headers.Host === undefined,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        const done = () => {
          let code: string | undefined;
          try {
            const text =
              body.includes('data: ') && !body.trimStart().startsWith('{')
                ? body.slice(body.indexOf('data: ') + 6).split('\n')[0]!
                : body;
            code = (JSON.parse(text) as { error?: { data?: { code?: string } } }).error?.data?.code;
          } catch {
            code = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, code });
        };
        res.on('data', (c: string) => {
          body += c;
          if (
            String(res.headers['content-type'] ?? '').includes('text/event-stream') &&
            body.includes('\n\n')
          ) {
            res.destroy();
            done();
          }
        });
        res.on('end', done);
        res.on('error', () => undefined);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
export const JSON_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

/** A request written byte for byte on a socket (headers node:http will not send, such as two Host lines). */
export function rawSocket(
  url: string,
  head: string,
  body = '',
): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const socket = connect(Number(u.port), u.hostname, () =>
      socket.end(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`),
    );
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      text += c;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, code: /"code":"(ERR_[A-Z_]+)"/.exec(text)?.[1] });
    });
  });
}
