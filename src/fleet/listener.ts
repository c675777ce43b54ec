import pg from 'pg';
import { FLEET_CHANNEL } from './schema.js';

/** What a listener wakes: `table` changed (or, after a reconnect, `null`: anything may have). */
type Wake = (table: string | null) => void | Promise<void>;

/** One dedicated connection LISTENing for the fleet's changes, reconnecting when it drops. */
export interface FleetListener {
  /** Connected and listening now. */
  readonly connected: boolean;
  /** When the connection was lost (ms, wall clock), while it is; undefined when connected. */
  readonly lostAt: number | undefined;
  on(wake: Wake): void;
  close(): Promise<void>;
}

export interface ListenerOptions {
  /** Try to reconnect every this many ms while the connection is down (default 200). */
  readonly reconnectMs?: number;
}

/**
 * LISTEN on the fleet channel over its own connection (a pooled connection cannot hold a LISTEN). A
 * NOTIFY is not durable: one sent while this connection was down is lost. So after every (re)connect the
 * subscribers are woken with `null` — re-read everything you keep — once LISTEN is in place, so nothing
 * committed after that point can be missed either.
 * @example const l = await listenFleet(url); l.on((t) => t === 'revocations' && reread())
 */
export async function listenFleet(url: string, options: ListenerOptions = {}): Promise<FleetListener> {
  const reconnectMs = options.reconnectMs ?? 200;
  const wakes: Wake[] = [];
  let client: pg.Client | undefined;
  let lostAt: number | undefined = Date.now();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const wake = (t: string | null) => Promise.all(wakes.map(async (w) => w(t)));

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, application_name: 'intentguard-listen' });
    const lost = () => {
      if (client !== c) return;
      client = undefined;
      lostAt ??= Date.now();
      c.end().catch(() => undefined);
      schedule();
    };
    c.on('error', lost);
    c.on('end', lost);
    c.on('notification', (n) => void wake(n.payload ?? null).catch(() => undefined));
    try {
      await c.connect();
      await c.query(`LISTEN ${FLEET_CHANNEL}`);
    } catch (e) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
      throw e;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    // Fresh only once every reader has re-read what it may have missed; a reader that cannot drops the
    // connection again (and so stays stale until a later reconnect succeeds).
    try {
      await wake(null);
      if (client === c) lostAt = undefined;
    } catch {
      lost();
    }
  };
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect().catch(schedule);
    }, reconnectMs);
    timer.unref();
  };

  await connect();
  return {
    get connected() {
      return client !== undefined;
    },
    get lostAt() {
      return lostAt;
    },
    on(w) {
      wakes.push(w);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
