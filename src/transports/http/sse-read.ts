import type { Readable } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Lane } from '../../carrier/lane.js';
import { SSE_EVENT_SLACK } from '../../carrier/relay.js';

/** How one upstream event stream is read into a lane. */
export interface SseReading {
  /** Where the events are carried: in order, each event's bytes held against the lane's valve. */
  readonly lane: Lane;
  /** The size limit of one message: an event growing past it (and some slack) cuts the stream. */
  readonly maxBytes: number;
  /** Decide and deliver one event (runs in the lane). */
  onEvent(ev: EventSourceMessage): Promise<void>;
  /** The stream's `retry:` field. */
  onRetry?(ms: number): void;
  /** The stream was cut (an event over the limit): runs in the lane, after the events before it. */
  onCut?(): unknown;
  /** The stream has ended (its end, an error, or a cut) and every event of it was carried; runs once. */
  onEnd(): unknown;
}

/**
 * Read an upstream SSE body event by event into a lane, the one way every HTTP path reads a server's
 * stream: an event growing past the size limit is not buffered further, the upstream stream is cut.
 */
export function readSse(from: Readable, r: SseReading): void {
  // Bytes of the event being read.
  let partial = 0;
  let cut = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    void r.lane.drained().then(() => r.onEnd());
  };
  const parser = createParser({
    onEvent: (ev) => {
      partial = 0;
      r.lane.carry(ev.data.length, () => r.onEvent(ev));
    },
    ...(r.onRetry && { onRetry: r.onRetry }),
  });
  from.setEncoding('utf8');
  from.on('data', (c: string) => {
    if (cut) return;
    partial += Buffer.byteLength(c);
    if (partial <= r.maxBytes + SSE_EVENT_SLACK) {
      parser.feed(c);
      return;
    }
    cut = true;
    from.destroy();
    if (r.onCut) void r.lane.push(r.onCut);
    end();
  });
  from.on('end', end);
  from.on('error', end);
}
