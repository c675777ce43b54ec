import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Approvals } from '../approvals/approvals.js';
import { listen } from '../lib/listen.js';
import type { Monitor } from '../monitor/create.js';
import type { Policy } from '../model/policy.js';
import { createFrontDoor, refuseRequest } from '../carrier/front-door.js';
import type { Store } from '../store/db.js';
import type { Recorder } from '../store/recorder.js';
import { serveObserve } from './endpoints.js';
import { readiness, type Readiness, type UpstreamProbe } from './health.js';
import type { RuntimeMetrics } from './metrics.js';
import type { Tracing } from './tracing.js';

export interface ObservabilityOptions {
  /** Keep Prometheus metrics (default true; `intentguard stdio` turns them on with `--metrics-port`). */
  readonly metrics?: boolean;
  /** Serve `/metrics`, `/healthz`, `/readyz` on a listener of their own (`--metrics-listen`). */
  readonly listen?: { readonly host: string; readonly port: number };
  /** `Host` names accepted on that listener besides its address (the proxy's `--allowed-hosts`). */
  readonly allowedHosts?: readonly string[];
  /** The environment (for `OTEL_*`). Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

/** A runtime's metrics, traces and health endpoints. */
export interface Observability {
  readonly metrics?: RuntimeMetrics;
  readonly tracing?: Tracing;
  /** `http://host:port` of the `--metrics-listen` server, once started. */
  readonly address?: string;
  /** Wrap the runtime's policy (analysis time) before the monitor is created. */
  timed<S>(policy: Policy<S>): Policy<S>;
  /** Feed the metrics and traces from the runtime's parts; start the metrics listener if configured. */
  attach(parts: {
    monitor: Monitor;
    recorder?: Recorder;
    approvals?: Approvals;
    store?: Store;
  }): Promise<void>;
  /** The proxy says how to tell whether its upstream is there (reachable URL, spawned command). */
  setUpstream(probe: UpstreamProbe): void;
  readiness(): Promise<Readiness>;
  /**
   * Answer `/metrics`, `/healthz`, `/readyz` on a proxy's own listener (after its front door); false
   * for every other path. They are answered here and never forwarded upstream.
   */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Whether the `OTEL_*` environment asks for traces. */
export const tracesWanted = (env: NodeJS.ProcessEnv): boolean =>
  env.OTEL_SDK_DISABLED !== 'true' &&
  (env.OTEL_TRACES_EXPORTER !== undefined
    ? env.OTEL_TRACES_EXPORTER !== 'none'
    : Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT));

/**
 * Create a runtime's observability. prom-client is loaded only when metrics are on, OpenTelemetry only
 * when the `OTEL_*` environment asks for traces (a proxy without either starts without loading them).
 * @example
 * const observe = await createObservability({ metrics: true });
 * const monitor = createMonitor({ policy: observe.timed(intentPolicy()) });
 * await observe.attach({ monitor });
 */
export async function createObservability(o: ObservabilityOptions = {}): Promise<Observability> {
  const env = o.env ?? process.env;
  const metrics =
    o.metrics !== false || o.listen ? (await import('./metrics.js')).createMetrics() : undefined;
  const tracing = tracesWanted(env) ? await (await import('./tracing.js')).createTracing({ env }) : undefined;
  let upstream: UpstreamProbe | undefined;
  let parts: { store?: Store; recorder?: Recorder } = {};
  let server: Server | undefined;
  let address: string | undefined;
  const self: Observability = {
    ...(metrics && { metrics }),
    ...(tracing && { tracing }),
    get address() {
      return address;
    },
    timed: (policy) => (metrics ? metrics.timed(policy) : policy),
    async attach(p) {
      parts = p;
      metrics?.attach(p);
      tracing?.attach(p.monitor);
      if (o.listen) {
        const { host, port } = o.listen;
        // Its own front door: a browser page (DNS rebinding, cross-site) cannot read it either.
        const door = createFrontDoor({
          listenHost: host,
          ...(o.allowedHosts && { allowedHosts: o.allowedHosts }),
        });
        server = createServer(async (req, res) => {
          const refused = door.check(req.headers, req.socket.localPort, req.headersDistinct);
          if (refused) {
            req.resume();
            return refuseRequest(res, refused);
          }
          const url = new URL(req.url ?? '/', 'http://localhost');
          if (!(await self.serve(req, res, url.pathname)))
            res
              .writeHead(404, { 'content-type': 'application/json' })
              .end('{"code":"ERR_NOT_FOUND","message":"only /metrics, /healthz and /readyz here"}\n');
        });
        await listen(server, host, port);
        const a = server.address() as { port: number };
        address = `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
        o.log?.(`metrics on ${address}/metrics`);
      }
    },
    setUpstream(probe) {
      upstream = probe;
    },
    readiness: () => readiness(upstream, parts.store, parts.recorder),
    serve: (req, res, pathname) => serveObserve(req, res, pathname, self),
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((r) => server!.close(() => r()));
      }
      metrics?.close();
      await tracing?.close();
    },
  };
  return self;
}
