import type { ServerResponse } from 'node:http';
import { errorAnswer } from '../jsonrpc/message.js';
import type { Identity } from '../model/events.js';

/** Default for `--max-sessions-per-agent`. */
export const DEFAULT_MAX_SESSIONS_PER_AGENT = 16;

export interface SessionQuota {
  readonly max: number;
  /**
   * Reserve a session for this verified agent identity (by `sub`: every grant of one agent counts
   * together). Returns the release (idempotent), or undefined when the agent holds its maximum already.
   * Anonymous sessions (no grants configured) are bounded by `--max-sessions` alone.
   */
  acquire(identity: Identity | undefined): (() => void) | undefined;
  /** Sessions held now by this sub (tests, metrics). */
  held(sub: string): number;
}

/**
 * Per-identity session quota, shared by every session-opening path of a proxy (Streamable HTTP, the
 * stdio bridge, legacy SSE, WebSocket): one agent cannot take every session slot and lock the others
 * out. A reservation is taken before anything is opened (so concurrent opens cannot overshoot) and
 * given back when the session ends or fails to start.
 * @example const release = quota.acquire(identity); if (!release) return refuse(); handle.whenEnded().then(release);
 */
export function createSessionQuota(max: number = DEFAULT_MAX_SESSIONS_PER_AGENT): SessionQuota {
  const counts = new Map<string, number>();
  return {
    max,
    acquire(identity) {
      const sub = identity?.sub;
      if (sub === undefined) return () => undefined;
      const n = counts.get(sub) ?? 0;
      if (n >= max) return undefined;
      counts.set(sub, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(sub) ?? 1) - 1;
        if (left <= 0) counts.delete(sub);
        else counts.set(sub, left);
      };
    },
    held: (sub) => counts.get(sub) ?? 0,
  };
}

const message = (max: number) =>
  `intentguard: ERR_SESSION_QUOTA: this agent identity already has ${max} sessions open (--max-sessions-per-agent); close one or try again later`;

/** A new session refused because its agent holds its quota: 429, try again later. */
export function quotaExceeded(res: ServerResponse, max: number): void {
  if (res.headersSent) return;
  res
    .writeHead(429, { 'content-type': 'application/json', 'retry-after': '5' })
    .end(JSON.stringify(errorAnswer(null, -32001, message(max), { code: 'ERR_SESSION_QUOTA' })));
}

/** The same refusal for a WebSocket upgrade, on the raw socket. */
export function quotaExceededUpgrade(socket: { end(text: string): void }, max: number): void {
  socket.end(
    `HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message(max)}\n`,
  );
}
