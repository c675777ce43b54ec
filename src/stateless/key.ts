import type { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { META } from '../era/keys.js';
import type { Identity } from '../model/events.js';

/** The request header naming an explicit correlation (several agents on one grant, or without one). */
const CORRELATION_HEADER = 'intentguard-correlation';

/** The same correlation in a request's `_meta` (a client that cannot set headers). The header wins. */
export const CORRELATION_META = 'io.intentguard/correlation';

/** The intentguard session a stateless request joins, and how it was chosen. */
export interface StatelessKey {
  readonly key: string;
  /**
   * What chose the session when it rests on what the client says (a correlation, its connection and
   * `clientInfo`): recorded as the session's transport hint, prefixed `unverified`. Undefined for a
   * grant's own session.
   */
  readonly basis?: string;
  /** Keyed by its connection: the session ends when that connection closes. */
  readonly connection?: IncomingMessage['socket'];
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Long or odd values are keyed by their digest (bounded, printable); short printable ones as they are. */
const keyPart = (v: string): string =>
  v.length <= 128 && /^[\x21-\x7e]+$/.test(v) ? v : `sha256:${createHash('sha256').update(v).digest('hex')}`;

const metaOf = (body: unknown): Record<string, unknown> | undefined => {
  const params = isPlain(body) && isPlain(body.params) ? body.params : undefined;
  return params && isPlain(params._meta) ? params._meta : undefined;
};

const connections = new WeakMap<object, number>();
let nextConnection = 0;

/**
 * The intentguard session a stateless (2026-07-28) request joins. With a grant: its `jti` (or subject)
 * and the optional correlation. Without one, monitoring (learn mode), never one global session: an
 * explicit correlation — the `Intentguard-Correlation` header, else `_meta["io.intentguard/correlation"]`
 * — keys it; otherwise its connection and the `clientInfo` of its `_meta` do. All of that is the
 * client's say, so it is recorded as unverified. Enforcing without a grant, anonymous traffic stays one
 * session: any key the client chooses would let it shed a halt or a budget by choosing another.
 */
export function statelessKey(
  identity: Identity | undefined,
  req: IncomingMessage,
  body: unknown,
  mode: 'enforce' | 'monitor',
): StatelessKey {
  const meta = metaOf(body);
  const header = req.headers[CORRELATION_HEADER];
  const said = typeof header === 'string' ? header : meta?.[CORRELATION_META];
  const correlation = typeof said === 'string' && said.length > 0 ? keyPart(said) : undefined;
  const principal = identity?.jti ?? identity?.sub;
  if (principal !== undefined)
    return {
      key: `${principal}\u0000${correlation ?? ''}`,
      ...(correlation !== undefined && { basis: `unverified correlation ${correlation}` }),
    };
  if (mode === 'enforce') return { key: 'anonymous\u0000' };
  if (correlation !== undefined)
    return { key: `anonymous\u0000c:${correlation}`, basis: `unverified correlation ${correlation}` };
  const socket = req.socket;
  let n = connections.get(socket);
  if (n === undefined) connections.set(socket, (n = ++nextConnection));
  const info = isPlain(meta?.[META.clientInfo]) ? (meta[META.clientInfo] as Record<string, unknown>) : {};
  const client = `${keyPart(String(info.name ?? '')) || '-'}/${keyPart(String(info.version ?? '')) || '-'}`;
  return {
    key: `anonymous\u0000conn:${n}\u0000${client}`,
    basis: `unverified connection ${n} clientInfo ${client}`,
    connection: socket,
  };
}
