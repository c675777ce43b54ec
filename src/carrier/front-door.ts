import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { errorAnswer } from '../jsonrpc/message.js';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { IntentGuardError } from '../errors.js';

/** Which browsers and names may reach an HTTP or WebSocket proxy (`--allowed-origins`, `--allowed-hosts`). */
export interface FrontDoorOptions {
  /** The address the proxy listens on, as configured (`127.0.0.1`, `localhost`, `0.0.0.0`, `::1`, a name). */
  readonly listenHost: string;
  /** Browser origins allowed to call (`https://app.example.com`) besides intentguard's own; any other `Origin` is refused. */
  readonly allowedOrigins?: readonly string[];
  /** Extra names the `Host` header may carry (`mcp.corp.example` on any port, or `name:port`). */
  readonly allowedHosts?: readonly string[];
}

/** Why a request was turned away at the door (HTTP 403). */
export interface DoorRefusal {
  readonly code: 'ERR_ORIGIN' | 'ERR_HOST';
  readonly message: string;
}

export interface FrontDoor {
  /**
   * Check a request's `Origin`, `Sec-Fetch-Site` and `Host` (`localPort`: the port the connection came
   * in on; `distinct`: `req.headersDistinct`, so a second `Host`, which Node would drop, is refused).
   */
  check(
    headers: IncomingHttpHeaders,
    localPort: number | undefined,
    distinct?: NodeJS.Dict<string[]>,
  ): DoorRefusal | undefined;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

const configError = (message: string) => new IntentGuardError('ERR_CONFIG', message);

/** A host (no port) normalized as a URL parser does it: lower case, IPs canonical, one trailing dot dropped. */
function normalHost(host: string): string | undefined {
  if (host === '' || /[/?#@\\\s]/.test(host)) return undefined;
  try {
    const h = new URL(`http://${host}`).hostname;
    return h.endsWith('.') ? h.slice(0, -1) : h;
  } catch {
    return undefined;
  }
}

/** `name`, `name:port`, `[v6]`, `[v6]:port` → normalized host and port (undefined when none is given). */
function splitHostPort(value: string): { host: string; port: number | undefined } | undefined {
  let host = value;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return undefined;
    host = value.slice(0, end + 1);
    const rest = value.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      port = rest.slice(1);
    }
  } else {
    const colon = value.indexOf(':');
    if (colon >= 0) {
      if (value.indexOf(':', colon + 1) >= 0) return undefined;
      host = value.slice(0, colon);
      port = value.slice(colon + 1);
    }
  }
  const h = normalHost(host);
  if (h === undefined) return undefined;
  if (port === undefined) return { host: h, port: undefined };
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  return { host: h, port: Number(port) };
}

/** An origin normalized for comparison: `scheme://host[:port]`, default ports dropped. */
function normalOrigin(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '' && u.pathname !== '/'))
    return undefined;
  if (u.origin !== 'null') return u.origin;
  // A non-special scheme (vscode-webview://…, chrome-extension://…): its own serialization, lower case.
  return u.host ? `${u.protocol}//${u.host}`.toLowerCase() : undefined;
}

const isLoopback = (host: string) =>
  host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * The DNS-rebinding and cross-site guard every HTTP and WebSocket proxy runs before anything else
 * (the MCP transport spec requires servers to validate `Origin`):
 * - a browser `Origin` must be intentguard's own (`http://` + a name of the listen address + the port
 *   the request came in on: same-origin, which no other site can claim) or one of `allowedOrigins`;
 *   a request without one is a non-browser client's, unless the browser says it comes from another
 *   site (`Sec-Fetch-Site`);
 * - `Host` must name the address the proxy listens on, on the port the request came in on (any
 *   loopback name when it listens on loopback; this machine's addresses when on every interface), or
 *   one of `allowedHosts`. A rebinding page reaches the proxy under the attacker's name: refused.
 * Lists are compiled once; a malformed entry is `ERR_CONFIG` at start.
 * @example createFrontDoor({ listenHost: '127.0.0.1', allowedOrigins: ['https://app.example.com'] }).check(req.headers, req.socket.localPort)
 */
export function createFrontDoor(o: FrontDoorOptions): FrontDoor {
  const origins = new Set<string>();
  for (const entry of o.allowedOrigins ?? []) {
    const n = normalOrigin(entry.trim());
    if (n === undefined)
      throw configError(`--allowed-origins: "${entry}" is not an origin (scheme://host[:port], no path)`);
    origins.add(n);
  }
  /** Names allowed on any port, and name:port pairs. */
  const anyPort = new Set<string>();
  const exact = new Set<string>();
  for (const entry of o.allowedHosts ?? []) {
    const hp = splitHostPort(entry.trim());
    if (hp === undefined) throw configError(`--allowed-hosts: "${entry}" is not a host name or host:port`);
    if (hp.port === undefined) anyPort.add(hp.host);
    else exact.add(`${hp.host}:${hp.port}`);
  }
  const listen = o.listenHost.trim().toLowerCase();
  const listenHost = WILDCARDS.has(listen)
    ? ''
    : normalHost(listen.includes(':') && !listen.startsWith('[') ? `[${listen}]` : listen);
  if (listenHost === undefined) throw configError(`--listen: "${o.listenHost}" is not a host`);
  /** Names that reach the listen address, on the port a request came in on. */
  const own = new Set<string>();
  if (listenHost === '') {
    for (const n of LOOPBACK_NAMES) own.add(n);
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) own.add(a.family === 'IPv6' ? `[${a.address.split('%')[0]}]` : a.address);
    }
  } else {
    own.add(listenHost);
    if (isLoopback(listenHost)) for (const n of LOOPBACK_NAMES) own.add(n);
  }

  /** `http://name:port` for a name of the listen address and the port the request came in on. */
  const isOwnOrigin = (origin: string, localPort: number | undefined): boolean => {
    if (!origin.startsWith('http://') || localPort === undefined) return false;
    const hp = splitHostPort(origin.slice(7));
    return hp !== undefined && own.has(hp.host) && (hp.port ?? 80) === localPort;
  };

  // A client sends the same Host on every request: its verdict is kept (a bounded memo: a flood of
  // distinct values empties it rather than growing it).
  const hostVerdicts = new Map<string, string | undefined>();
  const hostProblem = (value: string | undefined, localPort: number | undefined): string | undefined => {
    if (value === undefined) return 'the request has no Host header';
    const key = `${localPort ?? ''} ${value}`;
    if (hostVerdicts.has(key)) return hostVerdicts.get(key);
    if (hostVerdicts.size >= 256) hostVerdicts.clear();
    const problem = judgeHost(value, localPort);
    hostVerdicts.set(key, problem);
    return problem;
  };
  const judgeHost = (value: string, localPort: number | undefined): string | undefined => {
    const hp = splitHostPort(value);
    if (hp === undefined) return `Host "${value}" is not a host`;
    const port = hp.port ?? 80;
    if (anyPort.has(hp.host) || exact.has(`${hp.host}:${port}`)) return undefined;
    if (own.has(hp.host) && (localPort === undefined || port === localPort)) return undefined;
    return `Host "${value}" names neither the address intentguard listens on nor an allowed host (--allowed-hosts)`;
  };

  return {
    check(headers, localPort, distinct) {
      if ((distinct?.host?.length ?? 0) > 1)
        return { code: 'ERR_HOST', message: 'the request has more than one Host header' };
      if ((distinct?.origin?.length ?? 0) > 1)
        return { code: 'ERR_ORIGIN', message: 'the request has more than one Origin header' };
      const origin = headers.origin;
      if (origin !== undefined) {
        const n = normalOrigin(origin);
        if (n === undefined || !(origins.has(n) || isOwnOrigin(n, localPort)))
          return {
            code: 'ERR_ORIGIN',
            message: `Origin "${origin}" is not an allowed origin (--allowed-origins)`,
          };
      } else {
        const site = headers['sec-fetch-site'];
        if (site === 'cross-site' || site === 'same-site')
          return {
            code: 'ERR_ORIGIN',
            message: `a browser request from another site (Sec-Fetch-Site: ${site}) without an allowed Origin`,
          };
      }
      const problem = hostProblem(headers.host, localPort);
      return problem === undefined ? undefined : { code: 'ERR_HOST', message: problem };
    },
  };
}

/**
 * CORS for a request that passed the door: a browser at an allowed origin (or intentguard's own) may
 * read the answers and send MCP's headers. Answers a preflight (`OPTIONS`) itself and returns true.
 */
export function corsFor(
  headers: IncomingHttpHeaders,
  method: string | undefined,
  res: ServerResponse,
): boolean {
  if (headers.origin !== undefined) {
    res.setHeader('access-control-allow-origin', headers.origin);
    res.setHeader('vary', 'Origin');
    res.setHeader('access-control-expose-headers', 'mcp-session-id, www-authenticate, retry-after');
  }
  if (method !== 'OPTIONS') return false;
  res
    .writeHead(204, {
      'access-control-allow-methods': 'GET, POST, DELETE',
      'access-control-allow-headers':
        'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id',
      'access-control-max-age': '600',
    })
    .end();
  return true;
}

const body = (r: DoorRefusal) =>
  JSON.stringify(errorAnswer(null, -32001, `intentguard: ${r.code}: ${r.message}`, { code: r.code }));

/** Refuse an HTTP request at the door: 403 with a JSON-RPC error body (no id). */
export function refuseRequest(res: ServerResponse, r: DoorRefusal): void {
  if (res.headersSent) return;
  res.writeHead(403, { 'content-type': 'application/json' }).end(body(r));
}

/** Refuse a WebSocket upgrade at the door: 403 on the raw socket. */
export function refuseUpgrade(socket: Duplex, r: DoorRefusal): void {
  const text = body(r);
  socket.end(
    `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
