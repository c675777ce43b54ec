import { appendPgAnchor, lastAnchor } from './anchor-row.js';
import type { PgStore } from './store.js';
import { SESSIONS_CHAIN_LOCK } from './writer.js';

/**
 * Delete ended sessions of a PostgreSQL store that started before `cutoff` (with their events,
 * decisions and alerts) and append a chained `prune` anchor, as `pruneSessions` does for SQLite. Only a
 * prefix of the sessions chain can go; the chain lock keeps recording instances from appending meanwhile.
 * @example await prunePg(store, Date.now() - 30 * 86_400_000, Date.now())
 */
export async function prunePg(store: PgStore, cutoff: number, now: number): Promise<number> {
  return store.pg.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SESSIONS_CHAIN_LOCK]);
    const firstKept = await client.query<{ rowid: number }>(
      'SELECT rowid FROM sessions WHERE NOT (started_at < $1 AND ended_at IS NOT NULL) ORDER BY rowid LIMIT 1',
      [cutoff],
    );
    const limit = firstKept.rows[0]?.rowid ?? Number.MAX_SAFE_INTEGER;
    const old = await client.query<{ id: string; hash: string }>(
      'SELECT id, hash FROM sessions WHERE started_at < $1 AND ended_at IS NOT NULL AND rowid < $2 ORDER BY rowid',
      [cutoff, limit],
    );
    if (old.rows.length === 0) return 0;
    const ids = old.rows.map((r) => r.id);
    for (const t of ['events', 'decisions', 'alerts'])
      await client.query(`DELETE FROM ${t} WHERE session_id = ANY($1)`, [ids]);
    await client.query('DELETE FROM sessions WHERE id = ANY($1)', [ids]);
    await appendPgAnchor(
      client,
      store.key,
      {
        kind: 'prune',
        at: now,
        detail: JSON.stringify({ cutoff, sessions: ids.length }),
        session_prev_hash: old.rows[old.rows.length - 1]!.hash,
      },
      (await lastAnchor(client))?.hash,
    );
    return ids.length;
  });
}
