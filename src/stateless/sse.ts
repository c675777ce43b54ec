import { createParser } from 'eventsource-parser';

/** What {@link sseData} yields: one event's data, or the end of a stream whose next event grew past the bound. */
export type SseItem = { readonly data: string } | { readonly tooLarge: number };

/**
 * Read a `text/event-stream` body event by event (the data of each event, its `data:` lines joined), as
 * the EventSource standard reads it (eventsource-parser): lines end in CRLF, LF or a lone CR, comments
 * and other fields are skipped. An event still incomplete after `maxEventBytes` bytes is not buffered
 * further: reading stops (the body is destroyed: for a Node stream or a web stream, leaving the loop
 * cancels it) and `{ tooLarge }` (the bytes read of it) is the last item.
 */
export async function* sseData(
  body: AsyncIterable<Uint8Array>,
  maxEventBytes: number,
): AsyncGenerator<SseItem> {
  const decoder = new TextDecoder();
  const ready: string[] = [];
  // Bytes fed since the last complete event.
  let partial = 0;
  const parser = createParser({
    onEvent: (ev) => {
      partial = 0;
      ready.push(ev.data);
    },
  });
  function* take(): Generator<SseItem> {
    while (ready.length > 0) {
      const data = ready.shift()!;
      if (data !== '') yield { data };
    }
  }
  for await (const value of body) {
    partial += value.byteLength;
    if (partial > maxEventBytes) {
      yield { tooLarge: partial };
      return;
    }
    parser.feed(decoder.decode(value, { stream: true }));
    yield* take();
  }
  parser.feed(decoder.decode());
  // The last event of a stream ends at its end, blank line or not (as the old reader had it).
  parser.feed('\n\n');
  yield* take();
}
