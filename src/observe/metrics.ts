import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { Approvals } from '../approvals/approvals.js';
import type { Monitor } from '../monitor/create.js';
import type { Policy, Verdict } from '../model/policy.js';
import type { Recorder } from '../store/recorder.js';

/** What a runtime's metrics are fed from. */
export interface MetricSources {
  readonly monitor: Monitor;
  readonly recorder?: Recorder;
  readonly approvals?: Approvals;
}

/** One Prometheus registry per runtime (so two proxies in one process never mix their counts). */
export interface RuntimeMetrics {
  readonly registry: Registry;
  /** Wrap the runtime's policy so each decision's analysis time is observed. */
  timed<S>(policy: Policy<S>): Policy<S>;
  /** Start counting what the monitor, the recorder and the approvals report. */
  attach(sources: MetricSources): void;
  /** The exposition text for `/metrics`. */
  render(): Promise<string>;
  readonly contentType: string;
  close(): void;
}

/**
 * A labelled counter counted on the per-message path in nested maps of its label values (no label
 * object, hashing or sorting per message), moved into its prom-client {@link Counter} whenever that is
 * read (`/metrics`, `get()`): what is exposed is always the count up to the read.
 */
class Tally {
  readonly #counts = new Map<string, Map<string, Map<string, number>>>();
  readonly #names: readonly string[];
  constructor(names: readonly string[]) {
    if (names.length < 1 || names.length > 3) throw new Error(`Tally: 1 to 3 labels, got ${names.length}`);
    this.#names = names;
  }
  /** One more for these label values (in the order of the counter's `labelNames`). */
  add(a: string, b = '', c = ''): void {
    let byB = this.#counts.get(a);
    if (!byB) this.#counts.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (!byC) byB.set(b, (byC = new Map()));
    byC.set(c, (byC.get(c) ?? 0) + 1);
  }
  /** Move what was counted into `counter`. */
  drain(counter: Counter): void {
    for (const [a, byB] of this.#counts)
      for (const [b, byC] of byB)
        for (const [c, n] of byC) {
          if (n === 0) continue;
          const values = [a, b, c];
          counter.inc(Object.fromEntries(this.#names.map((name, i) => [name, values[i]!])), n);
          byC.set(c, 0);
        }
  }
}

/** A counter of {@link Tally}: `add(...)` on the hot path, drained into prom-client when read. */
function tallied(
  config: ConstructorParameters<typeof Counter>[0] & { labelNames: readonly string[] },
): Tally {
  const tally = new Tally(config.labelNames);
  new Counter({
    ...config,
    collect() {
      tally.drain(this);
    },
  });
  return tally;
}

const isThenable = (v: unknown): v is PromiseLike<Verdict> =>
  typeof (v as PromiseLike<Verdict> | undefined)?.then === 'function';

/**
 * Create a runtime's metrics: sessions open, calls by decision, findings by rule, alerts, approvals
 * pending, recorder lag and health, the analysis time histogram, plus Node's process metrics.
 * @example
 * const metrics = createMetrics();
 * const monitor = createMonitor({ policy: metrics.timed(intentPolicy()) });
 * metrics.attach({ monitor });
 */
export function createMetrics(): RuntimeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const reg = { registers: [registry] };
  // Every message's analysis time, queued as a number and handed to the histogram when it is read (or
  // the queue is full): observing means label hashing and a bucket search, and per message that code and
  // its data are out of the caches (bench/profile-cold.ts); a batch runs them warm.
  const durations = new Float64Array(1024);
  let queued = 0;
  const observeQueued = () => {
    for (let i = 0; i < queued; i++) analysis.observe(durations[i]!);
    queued = 0;
  };
  const analysis: Histogram = new Histogram({
    name: 'intentguard_analysis_seconds',
    help: 'Time the policies took to decide one message (rules, intent checks, analysis)',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2],
    collect: observeQueued,
    ...reg,
  });
  const subscriptions: Subscription[] = [];

  const timed = <S>(policy: Policy<S>): Policy<S> => ({
    name: policy.name,
    ...(policy.createState && { createState: policy.createState.bind(policy) }),
    ...(policy.disposeState && { disposeState: policy.disposeState.bind(policy) }),
    evaluate(input) {
      const start = performance.now();
      const result = policy.evaluate(input);
      const done = () => {
        durations[queued++] = (performance.now() - start) / 1000;
        if (queued === durations.length) observeQueued();
      };
      if (!isThenable(result)) {
        done();
        return result;
      }
      return Promise.resolve(result).finally(done);
    },
  });

  const attach = (s: MetricSources): void => {
    const { monitor, recorder, approvals } = s;
    new Gauge({
      name: 'intentguard_sessions_open',
      help: 'Sessions open now',
      collect() {
        this.set(monitor.stats().sessions);
      },
      ...reg,
    });
    const opened = new Counter({
      name: 'intentguard_sessions_opened_total',
      help: 'Sessions opened, by transport',
      labelNames: ['transport'],
      ...reg,
    });
    const ended = new Counter({
      name: 'intentguard_sessions_ended_total',
      help: 'Sessions ended, by how (closed or halted)',
      labelNames: ['status'],
      ...reg,
    });
    // Counted for every message: tallied in plain maps, handed to prom-client when read (see Tally).
    const calls = tallied({
      name: 'intentguard_calls_total',
      help: 'tools/call requests by decision (enforced: false in monitor mode, or when the call passed)',
      labelNames: ['decision', 'enforced'],
      ...reg,
    });
    const decisions = tallied({
      name: 'intentguard_decisions_total',
      help: 'Decisions on every message, by direction, kind and decision',
      labelNames: ['dir', 'kind', 'decision'],
      ...reg,
    });
    const findings = tallied({
      name: 'intentguard_rule_findings_total',
      help: 'Findings by rule and the action the rule asked for',
      labelNames: ['rule', 'action'],
      ...reg,
    });
    const alerts = new Counter({
      name: 'intentguard_alerts_total',
      help: 'Alerts raised, by severity',
      labelNames: ['severity'],
      ...reg,
    });
    subscriptions.push(
      monitor.sessionOpened$.subscribe((st) => opened.inc({ transport: st.transport ?? 'unknown' })),
      monitor.sessionEnded$.subscribe((st) => ended.inc({ status: st.status })),
      monitor.alerts$.subscribe((a) => alerts.inc({ severity: a.severity })),
      monitor.decisions$.subscribe((d) => {
        decisions.add(d.dir, d.kind, d.action);
        if (d.kind === 'request' && d.method === 'tools/call')
          calls.add(d.action, d.enforced ? 'true' : 'false');
        for (const f of d.findings) findings.add(f.rule, f.action);
      }),
    );
    if (approvals) {
      new Gauge({
        name: 'intentguard_approvals_pending',
        help: 'Held calls waiting for an approver',
        collect() {
          this.set(approvals.pending().length);
        },
        ...reg,
      });
    }
    if (recorder) {
      let lastCommit = performance.now();
      const errors = new Counter({
        name: 'intentguard_recorder_errors_total',
        help: 'Recording failures (writes that did not commit)',
        ...reg,
      });
      subscriptions.push(
        recorder.commits$.subscribe(() => {
          lastCommit = performance.now();
        }),
        recorder.errors$.subscribe(() => errors.inc()),
      );
      new Gauge({
        name: 'intentguard_recorder_healthy',
        help: '1 while the recorder commits, 0 after a write failed (until a commit succeeds)',
        collect() {
          this.set(recorder.healthy ? 1 : 0);
        },
        ...reg,
      });
      new Gauge({
        name: 'intentguard_recorder_pending_rows',
        help: 'Rows queued or in flight and not yet committed',
        collect() {
          this.set(recorder.pending);
        },
        ...reg,
      });
      new Gauge({
        name: 'intentguard_recorder_lag_seconds',
        help: 'How long rows have waited since the last commit (0 when nothing is waiting)',
        collect() {
          this.set(recorder.pending > 0 ? (performance.now() - lastCommit) / 1000 : 0);
        },
        ...reg,
      });
    }
  };

  return {
    registry,
    timed,
    attach,
    render: () => registry.metrics(),
    contentType: registry.contentType,
    close() {
      for (const s of subscriptions.splice(0)) s.unsubscribe();
      registry.clear();
    },
  };
}
