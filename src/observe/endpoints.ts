import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readiness } from './health.js';
import type { RuntimeMetrics } from './metrics.js';

/** The paths intentguard answers itself (never proxied): metrics, liveness, readiness. */
export const OBSERVE_PATHS: ReadonlySet<string> = new Set(['/metrics', '/healthz', '/readyz']);

/** What the endpoints read. */
export interface EndpointSources {
  readonly metrics?: RuntimeMetrics;
  readiness(): Promise<Readiness>;
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(`${JSON.stringify(body)}\n`);

/**
 * Answer `/metrics`, `/healthz` or `/readyz` (GET or HEAD). Returns false for any other path, which the
 * caller handles. The caller has already passed the request through its front door (Origin, Host).
 * @example if (await serveObserve(req, res, url.pathname, sources)) return;
 */
export async function serveObserve(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  s: EndpointSources,
): Promise<boolean> {
  if (!OBSERVE_PATHS.has(pathname)) return false;
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return true;
  }
  if (pathname === '/healthz') {
    json(res, 200, { status: 'ok' });
  } else if (pathname === '/readyz') {
    const r = await s.readiness();
    json(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks });
  } else if (!s.metrics) {
    json(res, 404, { code: 'ERR_NOT_FOUND', message: 'metrics are off for this proxy' });
  } else {
    const text = await s.metrics.render();
    res.writeHead(200, { 'content-type': s.metrics.contentType, 'cache-control': 'no-store' }).end(text);
  }
  return true;
}
