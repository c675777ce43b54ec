import type { IncomingMessage, ServerResponse } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { OrderedQueue } from '../../carrier/queue.js';
import { Valve } from '../../carrier/valve.js';
import { SSE_EVENT_SLACK } from '../../carrier/relay.js';
import { pendingKey } from '../../monitor/state.js';
import { decideServer, withheld } from './decide.js';
import type { ProxySession } from './sessions.js';
import { sseEvent } from './sse-format.js';
import type { Upstream } from './upstream.js';

/** What a relay needs of its proxy: the upstream (answers to server requests go there) and the size limit. */
interface Proxy {
  readonly upstream: Upstream;
  /** The size limit of one message; an event growing past it (and some slack) cuts the stream. */
  readonly maxBody: number;
}

/** How one stream ends and what it owes. */
interface RelayEnd {
  /** Answers intentguard made already, sent before anything of upstream's. */
  readonly prefix?: readonly unknown[];
  /** The requests this stream owes answers to: cut short, they get "result withheld". */
  readonly requests?: readonly { id: string | number }[];
  /** Called once the stream has ended and every event of it was decided. */
  readonly onEnd: () => void;
}

/** One upstream SSE stream (`from`) relayed to one client response (`to`, already an event stream). */
interface SseRelay extends Proxy, RelayEnd {
  readonly session: ProxySession;
  readonly from: IncomingMessage;
  readonly to: ServerResponse;
  /** Back-pressure: `from` is not read while `to` is full or decisions are backed up. */
  readonly valve: Valve;
}

/** An upstream event, decided: the same event (id, event name) carrying the delivered text. */
async function relayEvent(r: SseRelay, ev: EventSourceMessage): Promise<void> {
  if (!ev.data) return;
  let m: unknown;
  try {
    m = JSON.parse(ev.data);
  } catch {
    await r.session.handle.observe('s2c', ev.data);
    return;
  }
  const d = await decideServer(r.upstream, r.session, m, ev.data);
  if (d.text !== undefined && !r.to.writableEnded)
    r.valve.write(
      r.to,
      `${ev.id !== undefined ? `id: ${ev.id}\n` : ''}${ev.event ? `event: ${ev.event}\n` : ''}data: ${d.text}\n\n`,
    );
}

/**
 * Relay an upstream SSE body, tapping each event as it streams, in order. An event growing past the
 * size limit is not buffered further: the upstream stream is cut, and the requests this stream still
 * owes an answer get "result withheld" errors.
 */
/** Whether an upstream answer is an event stream. */
export const isEventStream = (up: IncomingMessage) =>
  String(up.headers['content-type'] ?? '').includes('text/event-stream');

export function relaySse(
  proxy: Proxy,
  session: ProxySession,
  from: IncomingMessage,
  to: ServerResponse,
  end: RelayEnd,
): void {
  const valve = new Valve(from, 'http sse');
  const r: SseRelay = { upstream: proxy.upstream, maxBody: proxy.maxBody, session, from, to, valve, ...end };
  const { session: s, from: up, to: res } = r;
  // A job that throws ends the session (fail closed): nothing after it would be decided in order.
  const events = new OrderedQueue((e) => s.handle.close(`relay error: ${e.message}`));
  let partial = 0;
  let cut = false;
  for (const a of r.prefix ?? []) res.write(`data: ${JSON.stringify(a)}\n\n`);
  const parser = createParser({
    onEvent: (ev) => {
      partial = 0;
      const bytes = ev.data.length;
      valve.take(bytes);
      void events.push(() => relayEvent(r, ev).finally(() => valve.give(bytes)));
    },
    onRetry: (ms) => {
      if (!res.writableEnded) res.write(`retry: ${ms}\n\n`);
    },
  });
  const finish = () =>
    void events.drained().then(() => {
      if (!res.writableEnded) res.end();
      r.onEnd();
    });
  up.setEncoding('utf8');
  up.on('data', (c: string) => {
    if (cut) return;
    partial += Buffer.byteLength(c);
    if (partial <= r.maxBody + SSE_EVENT_SLACK) {
      parser.feed(c);
      return;
    }
    cut = true;
    up.destroy();
    void events.push(async () => {
      const pending = s.handle.state().pending;
      const owed = (r.requests ?? []).filter((q) => pending.has(pendingKey('c2s', q.id)));
      for (const a of await withheld(s, owed, r.maxBody)) if (!res.writableEnded) res.write(sseEvent(a));
    });
    finish();
  });
  up.on('end', () => {
    if (!cut) finish();
  });
  up.on('error', () => {
    if (!cut) finish();
  });
}
