import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { refuseRequest, type FrontDoor } from '../carrier/front-door.js';
import { parseTraceparent } from '../era/trace.js';
import { OBSERVE_PATHS } from './endpoints.js';
import type { Check, UpstreamProbe } from './health.js';
import type { Observability } from './observability.js';

export { tcpProbe } from './health.js';

/**
 * A carrier's `traceparent` header, for the requests of one body: their spans continue the caller's
 * trace (a message's own `params._meta.traceparent` comes first). A no-op without tracing.
 * @example hintTraceparent(runtime.observe, session.id, messages, req.headers.traceparent)
 */
export function hintTraceparent(
  observe: Observability,
  session: string,
  messages: readonly unknown[],
  header: string | string[] | undefined,
): void {
  // Two traceparent headers are ambiguous: neither is continued (the spec says to start a new trace).
  if (!observe.tracing || typeof header !== 'string') return;
  for (const m of messages) {
    const id = (m as { id?: unknown } | null)?.id;
    if (
      (typeof id === 'string' || typeof id === 'number') &&
      typeof (m as { method?: unknown }).method === 'string'
    )
      observe.tracing.hint(session, id, header);
  }
}

/**
 * The trace headers for a body a carrier sends upstream: with tracing, the `traceparent` of
 * intentguard's span for its first request (the server's spans become children of intentguard's; the
 * client's `tracestate` goes along when that span continues the client's trace); without tracing,
 * the client's own `traceparent` and `tracestate` headers, unchanged, when the `traceparent` is valid
 * (the server joins the client's trace). Nothing for a header given twice or malformed. A message's
 * `params._meta` is never rewritten.
 * @example upstreamCall('POST', req, body, s, upstreamTraceHeaders(observe, s.id, forwarded, req.headers))
 */
export function upstreamTraceHeaders(
  observe: Observability,
  session: string,
  forwarded: readonly unknown[],
  incoming: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string> {
  const header = incoming.traceparent;
  const state = typeof incoming.tracestate === 'string' ? incoming.tracestate : undefined;
  const client = typeof header === 'string' ? parseTraceparent(header) : undefined;
  if (observe.tracing) {
    for (const m of forwarded) {
      const { id, method } = (m ?? {}) as { id?: unknown; method?: unknown };
      if ((typeof id !== 'string' && typeof id !== 'number') || typeof method !== 'string') continue;
      const ours = observe.tracing.traceparentOf(session, id);
      if (ours === undefined) continue;
      const continued = client !== undefined && parseTraceparent(ours)?.traceId === client.traceId;
      return { traceparent: ours, ...(continued && state !== undefined && { tracestate: state }) };
    }
  }
  if (client === undefined) return {};
  return { traceparent: header as string, ...(state !== undefined && { tracestate: state }) };
}

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * Readiness of a server intentguard spawns per session (`intentguard http -- <command>`): its command
 * can be started (an existing executable, or found on `PATH`).
 */
export function spawnedProbe(command: string, env: NodeJS.ProcessEnv = process.env): UpstreamProbe {
  return (): Check => {
    const found =
      command.includes('/') || isAbsolute(command)
        ? executable(command)
        : (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, command)));
    return found
      ? { ok: true, detail: `${command}: spawned for each session` }
      : { ok: false, detail: `${command}: not found or not executable` };
  };
}

/** Readiness of the one server process a proxy spawned (`intentguard stdio`): started and not exited. */
export function childProbe(
  child: { readonly pid?: number | undefined; readonly exitCode: number | null },
  exited: () => boolean,
): UpstreamProbe {
  return () =>
    child.pid !== undefined && child.exitCode === null && !exited()
      ? { ok: true, detail: `server process ${child.pid} running` }
      : { ok: false, detail: 'server process not running' };
}

/**
 * Answer `/metrics`, `/healthz`, `/readyz` on a listener whose other requests are not plain HTTP (the
 * WebSocket proxy): the front door (Origin, Host) first, then the endpoints. False for other paths.
 */
export async function serveBehindDoor(
  door: FrontDoor,
  observe: Observability,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (!OBSERVE_PATHS.has(pathname)) return false;
  const refused = door.check(req.headers, req.socket.localPort, req.headersDistinct);
  if (refused) {
    req.resume();
    refuseRequest(res, refused);
    return true;
  }
  return observe.serve(req, res, pathname);
}
