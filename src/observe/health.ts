import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import type { Store } from '../store/db.js';
import type { Recorder } from '../store/recorder.js';

/** One readiness check's answer. */
export interface Check {
  readonly ok: boolean;
  readonly detail: string;
}

/** Whether the proxy's upstream is there: reachable (a URL) or spawned (a command). */
export type UpstreamProbe = () => Check | Promise<Check>;

/** `/readyz`: ready when the upstream is reachable or spawned, the store writable, the recorder healthy. */
export interface Readiness {
  readonly ready: boolean;
  readonly checks: { readonly upstream: Check; readonly store: Check; readonly recorder: Check };
}

/**
 * Probe a URL upstream with a TCP connection to its host and port (no request is sent: nothing reaches
 * the MCP server, and no session is opened there).
 * @example tcpProbe(new URL('http://127.0.0.1:3000/mcp'))
 */
export function tcpProbe(url: URL, timeoutMs = 2000): UpstreamProbe {
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return () =>
    new Promise<Check>((resolve) => {
      const socket = connect({ host, port });
      const done = (c: Check) => {
        socket.destroy();
        resolve(c);
      };
      socket.setTimeout(timeoutMs, () =>
        done({ ok: false, detail: `${url.host}: no answer in ${timeoutMs} ms` }),
      );
      socket.once('connect', () => done({ ok: true, detail: `${url.host} reachable` }));
      socket.once('error', (e: NodeJS.ErrnoException) =>
        done({ ok: false, detail: `${url.host}: ${e.code ?? e.message}` }),
      );
    });
}

/** Whether the database can be written: open, not read-only, and its file writable. */
export function storeCheck(store: Store | undefined): Check {
  if (!store) return { ok: true, detail: 'recording off' };
  if (!store.db.open) return { ok: false, detail: 'database closed' };
  if (store.db.readonly) return { ok: false, detail: 'database opened read-only' };
  if (store.path !== ':memory:') {
    try {
      accessSync(store.path, constants.W_OK);
    } catch (e) {
      return { ok: false, detail: `${store.path}: ${(e as NodeJS.ErrnoException).code ?? 'not writable'}` };
    }
  }
  return { ok: true, detail: 'writable' };
}

/** Whether the recorder commits (a failed write makes it unhealthy until a commit succeeds). */
function recorderCheck(recorder: Recorder | undefined): Check {
  if (!recorder) return { ok: true, detail: 'recording off' };
  return recorder.healthy
    ? { ok: true, detail: `healthy, ${recorder.pending} rows pending` }
    : { ok: false, detail: `unhealthy: ${recorder.lastError?.message ?? 'write failed'}` };
}

/** Run the readiness checks (`upstream`: undefined until the proxy has started its upstream). */
export async function readiness(
  upstream: UpstreamProbe | undefined,
  store: Store | undefined,
  recorder: Recorder | undefined,
): Promise<Readiness> {
  let up: Check;
  try {
    up = upstream ? await upstream() : { ok: false, detail: 'proxy not started' };
  } catch (e) {
    up = { ok: false, detail: (e as Error).message };
  }
  const checks = { upstream: up, store: storeCheck(store), recorder: recorderCheck(recorder) };
  return { ready: checks.upstream.ok && checks.store.ok && checks.recorder.ok, checks };
}
