import type { TaskOwners } from '../mrtr/tasks.js';
import type { PgStore } from '../store/pg/store.js';
import { migrateFleet } from './schema.js';

/** Most owners one instance keeps in memory (known for sure: it made the claim, or read it back). */
const MAX_CACHED = 65_536;

/**
 * Task owners across a fleet: `mrtr_task_owners` in the shared PostgreSQL, so a task created through one
 * instance is its creator's on every instance (a task id from another grant is refused anywhere). A
 * claim is committed before the task id goes to its client (`INSERT … ON CONFLICT DO NOTHING`: the first
 * claim wins, as on SQLite); a lookup reads the table, and a database error refuses (fail closed, see
 * {@link TaskOwners}). An owner this instance claimed first or read back is kept in memory until its
 * task's expiry: a task's owner never changes, so polling it costs no round trip after the first.
 * Expired rows are deleted now and then.
 * @example createEraGate({ key, tasks: await pgTaskOwners(store) })
 */
export async function pgTaskOwners(store: PgStore): Promise<TaskOwners> {
  await migrateFleet(store.pg);
  const known = new Map<string, { owner: string; exp: number }>();
  const remember = (taskId: string, owner: string, exp: number, now: number) => {
    if (known.size >= MAX_CACHED) {
      for (const [id, o] of known) if (o.exp <= now) known.delete(id);
      if (known.size >= MAX_CACHED) known.delete(known.keys().next().value!);
    }
    known.set(taskId, { owner, exp });
  };
  let claimed = 0;
  return {
    async claim(taskId, owner, expiresAt, now) {
      if (++claimed % 256 === 0)
        await store.pg.pool.query('DELETE FROM mrtr_task_owners WHERE expires_at <= $1', [now]);
      const r = await store.pg.pool.query(
        'INSERT INTO mrtr_task_owners (task_id, owner, expires_at) VALUES ($1, $2, $3) ON CONFLICT (task_id) DO NOTHING',
        [taskId, owner, expiresAt],
      );
      if (r.rowCount === 1) remember(taskId, owner, expiresAt, now);
    },
    ownerOf(taskId, now) {
      const mine = known.get(taskId);
      if (mine && mine.exp > now) return mine.owner;
      return store.pg.pool
        .query<{ owner: string; expires_at: string }>(
          'SELECT owner, expires_at FROM mrtr_task_owners WHERE task_id = $1 AND expires_at > $2',
          [taskId, now],
        )
        .then((r) => {
          const row = r.rows[0];
          if (!row) return undefined;
          remember(taskId, row.owner, Number(row.expires_at), now);
          return row.owner;
        });
    },
  };
}
