import { createHmac } from 'node:crypto';
import type { Observable, Subscription } from 'rxjs';
import { Subject } from '../lib/rx.js';
import type { Alert } from '../model/decision.js';
import type { Store } from '../store/db.js';
import { toOcsf } from './ocsf.js';

export interface WebhookOptions {
  readonly url: string;
  /** HMAC-SHA256 key; the signature goes in `X-Intentguard-Signature: sha256=<hex>` over `<timestamp>.<body>`. */
  readonly secret: string;
  /** Undelivered alerts are kept here and retried across restarts. Without it, an in-memory queue. */
  readonly store?: Store;
  /** In-memory queue bound (default 1000); past it, alerts are refused loudly (errors$), never silently. */
  readonly maxQueue?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly timeoutMs?: number;
  readonly clock?: () => number;
  /** Sink name in the outbox table (several webhooks can share one database). */
  readonly name?: string;
}

export interface WebhookSink {
  readonly delivered: number;
  readonly errors$: Observable<Error>;
  /** Alerts waiting (in the outbox or the queue). */
  pending(): number;
  /** Try every due alert now. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Sign a webhook body: `sha256=` + HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Deliver alerts to an HTTP endpoint as signed OCSF JSON, with retries and exponential backoff.
 * With a store, each alert is written to the `outbox` table first and deleted once delivered, so
 * nothing is lost on restart or while the endpoint is down.
 */
export function webhookSink(alerts$: Observable<Alert>, options: WebhookOptions): WebhookSink {
  const name = options.name ?? `webhook:${options.url}`;
  const clock = options.clock ?? Date.now;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 60_000;
  const maxQueue = options.maxQueue ?? 1000;
  const errors$ = new Subject<Error>();
  const memory: { id: string; body: string; attempts: number; due: number }[] = [];
  const db = options.store?.db;
  const insert = db?.prepare(
    'INSERT OR IGNORE INTO outbox (sink, alert_id, body, next_attempt_at) VALUES (?, ?, ?, ?)',
  );
  const due = db?.prepare(
    'SELECT rowid, alert_id, body, attempts FROM outbox WHERE sink = ? AND next_attempt_at <= ? ORDER BY rowid LIMIT 100',
  );
  const done = db?.prepare('DELETE FROM outbox WHERE rowid = ?');
  const retry = db?.prepare(
    'UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE rowid = ?',
  );
  const count = db?.prepare('SELECT count(*) AS n FROM outbox WHERE sink = ?');
  let delivered = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;

  const backoff = (attempts: number) =>
    Math.min(max, base * 2 ** Math.max(0, attempts - 1)) * (0.5 + Math.random() / 2);

  const post = async (body: string): Promise<void> => {
    const timestamp = String(Math.floor(clock() / 1000));
    const res = await fetch(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-intentguard-timestamp': timestamp,
        'x-intentguard-signature': signWebhook(options.secret, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
    await res.arrayBuffer();
  };

  const schedule = (ms: number) => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void drain(), ms);
    timer.unref?.();
  };

  const drainOnce = async (): Promise<void> => {
    if (db) {
      for (const row of due!.all(name, clock()) as {
        rowid: number;
        alert_id: string;
        body: string;
        attempts: number;
      }[]) {
        try {
          await post(row.body);
          done!.run(row.rowid);
          delivered++;
        } catch (e) {
          const attempts = row.attempts + 1;
          retry!.run(attempts, clock() + backoff(attempts), (e as Error).message, row.rowid);
          errors$.next(e as Error);
        }
      }
      const left = (count!.get(name) as { n: number }).n;
      if (left > 0) schedule(base);
      return;
    }
    for (const item of [...memory]) {
      if (item.due > clock()) continue;
      try {
        await post(item.body);
        memory.splice(memory.indexOf(item), 1);
        delivered++;
      } catch (e) {
        item.attempts++;
        item.due = clock() + backoff(item.attempts);
        errors$.next(e as Error);
      }
    }
    if (memory.length > 0) schedule(base);
  };

  const drain = (): Promise<void> => {
    running ??= drainOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const sub: Subscription = alerts$.subscribe((alert) => {
    const body = JSON.stringify(toOcsf(alert));
    if (insert) insert.run(name, alert.id, body, clock());
    else if (memory.length >= maxQueue) {
      errors$.next(
        new Error(
          `webhook queue full (${maxQueue}); alert ${alert.id} (${alert.rule}) not queued — configure a store to keep undelivered alerts`,
        ),
      );
      process.stderr.write(`intentguard: webhook queue full, alert ${alert.id} ${alert.rule} refused\n`);
      return;
    } else memory.push({ id: alert.id, body, attempts: 0, due: clock() });
    void drain();
  });
  if (db && (count!.get(name) as { n: number }).n > 0) void drain();

  return {
    get delivered() {
      return delivered;
    },
    errors$: errors$.asObservable(),
    pending: () => (db ? (count!.get(name) as { n: number }).n : memory.length),
    drain,
    async close() {
      closed = true;
      sub.unsubscribe();
      if (timer) clearTimeout(timer);
      await running;
      errors$.complete();
    },
  };
}
