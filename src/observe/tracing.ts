import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type TracerConfig,
} from '@opentelemetry/sdk-trace-base';
import type { Subscription } from 'rxjs';
import { IntentGuardError } from '../errors.js';
import type { SessionEvent } from '../model/events.js';
import type { Monitor } from '../monitor/create.js';
import type { Decision } from '../model/decision.js';
import { parseTraceparent } from '../era/trace.js';

export interface TracingOptions {
  /** The environment: `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`, `OTEL_TRACES_EXPORTER`, `OTEL_SERVICE_NAME`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Export here instead (tests: sdk-trace-base's `InMemorySpanExporter`); spans are exported as they end. */
  readonly exporter?: SpanExporter;
}

/** One span per request, from the monitor's streams. */
export interface Tracing {
  attach(monitor: Monitor): void;
  /**
   * A carrier read a `traceparent` header for a request (HTTP): the request's span continues that trace
   * (a `params._meta.traceparent` in the message itself comes first).
   */
  hint(session: string, id: string | number, traceparent: string | undefined): void;
  /**
   * The `traceparent` of intentguard's span for a client request still in flight (its answer not yet
   * seen), for the carrier to send upstream: the server's spans then continue intentguard's.
   */
  traceparentOf(session: string, id: string | number): string | undefined;
  /** End what is open and flush the exporter. */
  close(): Promise<void>;
}

/** Most header hints kept for requests not seen yet (a carrier hints just before it shows the message). */
const MAX_HINTS = 4096;

const metaTraceparent = (raw: unknown): unknown =>
  (raw as { params?: { _meta?: { traceparent?: unknown } } } | null)?.params?._meta?.traceparent;

/** A resource with only attributes (what the OTLP exporter reads), without the resources package. */
function resourceOf(attributes: Record<string, string>): NonNullable<TracerConfig['resource']> {
  const resource: NonNullable<TracerConfig['resource']> = {
    attributes,
    getRawAttributes: () => Object.entries(attributes),
    merge: (other) =>
      other ? resourceOf({ ...attributes, ...(other.attributes as Record<string, string>) }) : resource,
  };
  return resource;
}

function exporterFrom(env: NodeJS.ProcessEnv): SpanExporter {
  const kind = env.OTEL_TRACES_EXPORTER ?? 'otlp';
  if (kind !== 'otlp')
    throw new IntentGuardError(
      'ERR_CONFIG',
      `OTEL_TRACES_EXPORTER=${kind} is not supported (otlp or none; stdout carries MCP for the stdio proxy)`,
    );
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  return new OTLPTraceExporter(url ? { url } : {});
}

/**
 * Trace every request a session carries: a span from the request to its answer (or the session's
 * end), with the decision, the rules that fired, the session, the principal and the tool as
 * attributes, continuing the caller's `traceparent` (from `params._meta` or, over HTTP, the header).
 * @example
 * const tracing = await createTracing({ exporter: new InMemorySpanExporter() });
 * tracing.attach(monitor);
 */
export async function createTracing(o: TracingOptions = {}): Promise<Tracing> {
  const env = o.env ?? process.env;
  const exporter = o.exporter ?? exporterFrom(env);
  const provider = new BasicTracerProvider({
    resource: resourceOf({ 'service.name': env.OTEL_SERVICE_NAME || 'intentguard' }),
    spanProcessors: [o.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  const tracer: Tracer = provider.getTracer('intentguard');
  const open = new Map<string, Map<number, Span>>();
  const hints = new Map<string, string>();
  // Client requests in flight by JSON-RPC id, for the header a carrier sends upstream.
  const byId = new Map<string, Span>();
  const subscriptions: Subscription[] = [];
  const hintKey = (session: string, id: string | number) => `${session}\u0000${typeof id}:${id}`;

  const start = (e: SessionEvent): void => {
    const name = e.tool !== undefined ? `${e.method} ${e.tool}` : (e.method ?? 'request');
    const key = e.id === undefined ? undefined : hintKey(e.session, e.id);
    const hinted = key === undefined ? undefined : hints.get(key);
    if (key !== undefined) hints.delete(key);
    const parent = parseTraceparent(metaTraceparent(e.raw)) ?? parseTraceparent(hinted);
    const ctx = parent ? trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true }) : ROOT_CONTEXT;
    const span = tracer.startSpan(
      name,
      {
        kind: e.dir === 'c2s' ? SpanKind.SERVER : SpanKind.CLIENT,
        startTime: e.time,
        attributes: {
          'mcp.method.name': e.method ?? '',
          'mcp.session.id': e.session,
          'intentguard.direction': e.dir,
          ...(e.id !== undefined && { 'jsonrpc.request.id': String(e.id) }),
          ...(e.tool !== undefined && { 'gen_ai.tool.name': e.tool }),
          ...(e.identity && { 'enduser.id': e.identity.sub }),
          ...(e.identity?.iss !== undefined && { 'intentguard.principal.iss': e.identity.iss }),
        },
      },
      ctx,
    );
    let spans = open.get(e.session);
    if (!spans) open.set(e.session, (spans = new Map()));
    spans.set(e.seq, span);
    if (key !== undefined && e.dir === 'c2s') byId.set(key, span);
  };

  const decided = (d: Decision): void => {
    const span = open.get(d.session)?.get(d.seq);
    if (!span) return;
    span.setAttributes({
      'intentguard.decision': d.action,
      'intentguard.decision.id': d.id,
      'intentguard.enforced': d.enforced,
      'intentguard.rules': [...new Set(d.findings.map((f) => f.rule))],
      'intentguard.intent.version': d.intentVersion,
    });
  };

  const answered = (e: SessionEvent): void => {
    const spans = open.get(e.session);
    const seq = e.request?.seq;
    const span = seq === undefined ? undefined : spans?.get(seq);
    if (!span || seq === undefined) return;
    spans!.delete(seq);
    if (e.id !== undefined && byId.get(hintKey(e.session, e.id)) === span)
      byId.delete(hintKey(e.session, e.id));
    if (e.kind === 'error') {
      const err = e.error as { code?: unknown; message?: unknown; data?: { code?: unknown } } | undefined;
      span.setAttributes({
        'intentguard.answer': e.synthetic ? 'refused by intentguard' : 'error',
        ...(typeof err?.code === 'number' && { 'rpc.jsonrpc.error_code': err.code }),
        ...(typeof err?.data?.code === 'string' && { 'intentguard.error.code': err.data.code }),
      });
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: typeof err?.message === 'string' ? err.message.slice(0, 200) : 'error',
      });
    } else {
      span.setAttribute('intentguard.answer', 'result');
    }
    span.end(e.time);
  };

  const endSession = (session: string, status: string, time: number): void => {
    const spans = open.get(session);
    open.delete(session);
    for (const k of [...hints.keys()]) if (k.startsWith(`${session}\u0000`)) hints.delete(k);
    for (const k of [...byId.keys()]) if (k.startsWith(`${session}\u0000`)) byId.delete(k);
    for (const span of spans?.values() ?? []) {
      span.setAttribute('intentguard.answer', `session ${status}`);
      span.setStatus({ code: SpanStatusCode.ERROR, message: `session ${status} before the answer` });
      span.end(time);
    }
  };

  return {
    attach(monitor) {
      subscriptions.push(
        monitor.events$.subscribe((e) => {
          if (e.kind === 'request' && !e.duplicate) start(e);
          else if (e.kind === 'response' || e.kind === 'error') answered(e);
        }),
        monitor.decisions$.subscribe(decided),
        monitor.sessionEnded$.subscribe((s) => endSession(s.id, s.status, s.lastTime)),
      );
    },
    hint(session, id, traceparent) {
      if (traceparent === undefined || parseTraceparent(traceparent) === undefined) return;
      if (hints.size >= MAX_HINTS) hints.delete(hints.keys().next().value!);
      hints.set(hintKey(session, id), traceparent);
    },
    traceparentOf(session, id) {
      const c = byId.get(hintKey(session, id))?.spanContext();
      return c && `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
    },
    async close() {
      for (const s of subscriptions.splice(0)) s.unsubscribe();
      for (const id of [...open.keys()]) endSession(id, 'closed', Date.now());
      await provider.shutdown();
    },
  };
}
