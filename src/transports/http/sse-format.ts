import type { ServerResponse } from 'node:http';

/** One `message` event carrying a JSON-RPC message (given as text, or serialized here). */
export const sseEvent = (m: unknown) =>
  `event: message\ndata: ${typeof m === 'string' ? m : JSON.stringify(m)}\n\n`;

/** Turn a POST's response into an event stream (once), naming the session to the client. */
export function openSse(res: ServerResponse, sid: string | undefined): void {
  if (res.headersSent) return;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    ...(sid && { 'mcp-session-id': sid }),
  });
}

/** Whether a content type is an event stream's. */
export const isEventStreamType = (type: string) => type.includes('text/event-stream');
