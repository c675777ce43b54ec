import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { EventSourceMessage } from 'eventsource-parser';
import { Lane } from '../../carrier/lane.js';
import { Valve } from '../../carrier/valve.js';
import { pendingKey } from '../../monitor/state.js';
import { decideServer, withheld } from './decide.js';
import type { ProxySession } from './sessions.js';
import { isEventStreamType, sseEvent } from './sse-format.js';
import type { Upstream } from './upstream.js';
import { readSse } from './sse-read.js';

/** What a relay needs of its proxy: the upstream (answers to server requests go there) and the size limit. */
interface Proxy {
  readonly upstream: Upstream;
  /** The size limit of one message; an event growing past it (and some slack) cuts the stream. */
  readonly maxBody: number;
  /** A fleet: each event goes out once what led to it is committed (src/fleet/sessions.ts). */
  readonly runtime?: { readonly fleetSessions?: { durable(): Promise<unknown> } | undefined };
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

/** One upstream SSE stream relayed to one client response (`to`, already an event stream). */
interface SseRelay {
  readonly upstream: Upstream;
  /** Resolves once what was observed is committed (a fleet); a rejection ends the session (fail closed). */
  readonly durable: (() => Promise<unknown>) | undefined;
  readonly session: ProxySession;
  readonly to: ServerResponse;
  /** Back-pressure: the upstream stream is not read while `to` is full or decisions are backed up. */
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
  if (d.text !== undefined && r.durable) await r.durable();
  if (d.text !== undefined && !r.to.writableEnded)
    r.valve.write(
      r.to,
      `${ev.id !== undefined ? `id: ${ev.id}\n` : ''}${ev.event ? `event: ${ev.event}\n` : ''}data: ${d.text}\n\n`,
    );
}

/** Whether an upstream answer is an event stream. */
export const isEventStream = (up: IncomingMessage) =>
  isEventStreamType(String(up.headers['content-type'] ?? ''));

/**
 * Relay an upstream SSE body, tapping each event as it streams, in order. An event growing past the
 * size limit is not buffered further: the upstream stream is cut, and the requests this stream still
 * owes an answer get "result withheld" errors.
 */
export function relaySse(
  proxy: Proxy,
  session: ProxySession,
  from: Readable,
  to: ServerResponse,
  end: RelayEnd,
): void {
  // A job that throws ends the session (fail closed): nothing after it would be decided in order.
  const lane = new Lane(new Valve(from, 'http sse'), (e) =>
    session.handle.close(`relay error: ${e.message}`),
  );
  const fleet = proxy.runtime?.fleetSessions;
  const r: SseRelay = {
    upstream: proxy.upstream,
    durable: fleet && (() => fleet.durable()),
    session,
    to,
    valve: lane.valve,
  };
  for (const a of end.prefix ?? []) to.write(`data: ${JSON.stringify(a)}\n\n`);
  readSse(from, {
    lane,
    maxBytes: proxy.maxBody,
    onEvent: (ev) => relayEvent(r, ev),
    onRetry: (ms) => {
      if (!to.writableEnded) to.write(`retry: ${ms}\n\n`);
    },
    // The requests this stream still owes an answer get "result withheld" errors.
    onCut: async () => {
      const pending = session.handle.state().pending;
      const owed = (end.requests ?? []).filter((q) => pending.has(pendingKey('c2s', q.id)));
      for (const a of await withheld(session, owed, proxy.maxBody))
        if (!to.writableEnded) to.write(sseEvent(a));
    },
    onEnd: () => {
      if (!to.writableEnded) to.end();
      end.onEnd();
    },
  });
}
