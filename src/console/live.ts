import type { ServerResponse } from 'node:http';

/** Live updates over Server-Sent Events: every open page is told when the store changed. */
export interface LiveHub {
  /** Stream `change` events to this response until it closes. False when the hub is full. */
  attach(res: ServerResponse): boolean;
  /** This process changed the store itself (SQLite's data_version counts other connections only). */
  bump(): void;
  /** The change counter pages see. */
  readonly version: number;
  close(): void;
}

const MAX_CLIENTS = 256;

/**
 * Poll the store cheaply (`mark`: on SQLite `PRAGMA data_version`, one integer changed whenever another
 * connection — a proxy's recording thread, `intentguard approve` — commits; on PostgreSQL the heads of
 * the recorded tables) every `pollMs` (default 200 ms), and send `event: change` to every attached page
 * when it moved: pages update well within 1 s of an event. A poll still running skips the next tick.
 */
export async function createLiveHub(mark: () => Promise<string>, pollMs = 200): Promise<LiveHub> {
  const clients = new Set<ServerResponse>();
  let seen = await mark();
  let polling = false;
  let version = 0;
  const send = (line: string) => {
    for (const c of clients) c.write(line);
  };
  const changed = () => {
    version++;
    send(`event: change\ndata: ${version}\n\n`);
  };
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    mark()
      .then((v) => {
        if (v !== seen) {
          seen = v;
          changed();
        }
      })
      .catch(() => undefined) // the store is away: pages keep what they show until it answers again
      .finally(() => {
        polling = false;
      });
  }, pollMs);
  const heartbeat = setInterval(() => send(': keep-alive\n\n'), 15_000);
  poll.unref();
  heartbeat.unref();
  return {
    attach(res) {
      if (clients.size >= MAX_CLIENTS) return false;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(`retry: 1000\nevent: hello\ndata: ${version}\n\n`);
      clients.add(res);
      res.on('close', () => clients.delete(res));
      return true;
    },
    bump: changed,
    get version() {
      return version;
    },
    close() {
      clearInterval(poll);
      clearInterval(heartbeat);
      for (const c of clients) c.end();
      clients.clear();
    },
  };
}
