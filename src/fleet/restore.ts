import type { Identity } from '../model/events.js';
import type { Intent } from '../model/intent.js';
import type { RecordedEvent } from '../model/decision.js';
import type { Monitor } from '../monitor/create.js';
import type { SessionHandle } from '../monitor/handle.js';
import { pgError } from '../store/pg/pool.js';
import type { PgStore } from '../store/pg/store.js';

/** What the new owner knows of the session it takes over: the grant presenting it now. */
export interface Takeover {
  readonly id: string;
  readonly intent: Intent;
  readonly identity?: Identity | undefined;
  readonly transport: string;
}

/**
 * Continue here a session another instance owned, from its record in the shared store: its recorded
 * events are replayed through the monitor's reducer and policies (`Monitor.restore`), so the grant's
 * budget, provenance and rates are as they were; a session whose record shows a halt (its seal, or an
 * enforced halt decision not yet sealed) stays halted. The intent and identity are the grant's, as
 * verified on this request (the record's intent changes are replayed on top). A session with nothing
 * recorded yet (its owner died before its first commit) opens afresh under its id.
 * @example const s = await restoreFromRecord(store, monitor, { id, intent, identity, transport: 'http-stateless' })
 */
export async function restoreFromRecord(
  store: PgStore,
  monitor: Monitor,
  t: Takeover,
): Promise<SessionHandle> {
  let session: { started_at: number; status: string | null; halted: string | null } | undefined;
  let events: RecordedEvent[];
  try {
    const r = await store.pg.pool.query<{ started_at: number; status: string | null; halted: string | null }>(
      `SELECT started_at, status,
        (SELECT findings_json FROM decisions WHERE session_id = $1 AND action = 'halt' AND enforced = 1
          ORDER BY seq LIMIT 1) AS halted
        FROM sessions WHERE id = $1`,
      [t.id],
    );
    session = r.rows[0];
    const e = await store.pg.pool.query<{
      seq: number;
      time: number;
      dir: 'c2s' | 's2c';
      kind: string;
      raw: string;
      bytes: number;
      synthetic: number;
    }>('SELECT seq, time, dir, kind, raw, bytes, synthetic FROM events WHERE session_id = $1 ORDER BY seq', [
      t.id,
    ]);
    events = e.rows.map((row) => ({
      seq: row.seq,
      time: row.time,
      dir: row.dir,
      kind: row.kind,
      raw: parsed(row.raw),
      bytes: row.bytes,
      synthetic: row.synthetic === 1,
    }));
  } catch (e) {
    throw pgError(e, store.display);
  }
  const open = {
    id: t.id,
    intent: t.intent,
    transport: t.transport,
    ...(t.identity && { identity: t.identity }),
  };
  if (!session) return monitor.open(open);
  const halted =
    // Sealed as `halted (its reason)` (src/store/rows.ts pushEnd), or without a reason.
    session.status?.startsWith('halted')
      ? 'halted on its previous owner'
      : session.halted !== null
        ? haltReason(session.halted)
        : undefined;
  return monitor.restore({
    ...open,
    startedAt: session.started_at,
    events,
    ...(halted !== undefined && { halted }),
  });
}

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** The reason of a recorded halt decision's halting finding. */
function haltReason(findings: string): string {
  const f = (parsed(findings) as { action?: string; reason?: string }[] | string) ?? [];
  const halt = Array.isArray(f) ? f.find((x) => x.action === 'halt') : undefined;
  return halt?.reason ?? 'halted on its previous owner';
}
