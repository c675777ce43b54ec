import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKeyFile } from '../chain.js';
import { openStore, type Store } from '../db.js';
import type { SqlRow } from '../rows.js';
import { pgError } from './pool.js';
import type { PgStore } from './store.js';

/** Which records a copy holds: everything, or some sessions (with their events, decisions and alerts). */
export interface SnapshotFilter {
  readonly session?: string;
  /** Sessions started at or after this time (ms). */
  readonly since?: number;
  /** The newest this many sessions. */
  readonly limit?: number;
}

/** A local SQLite copy of PostgreSQL rows, removed by `close()`. */
export interface Snapshot {
  readonly store: Store;
  /** The copy's file (readers on worker threads open it themselves). */
  readonly path: string;
  close(): void;
}

const PAGE = 1000;
const CHILDREN = ['events', 'decisions', 'alerts'] as const;
const SHARED = ['approvals', 'grant_requests', 'revocations', 'audit_anchors'] as const;

/**
 * Copy a PostgreSQL store's rows (rowids, hashes and all) into a private temporary SQLite file with
 * the same schema and the same audit keys, so every reader of the SQLite store — `sessions`, `show`,
 * `export`, `replay --diff`, `audit verify` — runs unchanged on either backend. Rows are copied in pages
 * (bounded memory; the copy is on disk, in a directory only this user can read, removed on close).
 * One REPEATABLE READ transaction: the copy is one consistent view even while a fleet records.
 * @example const snap = await pgSnapshot(store, { session: id }); try { … snap.store … } finally { snap.close() }
 */
export async function pgSnapshot(
  pgStore: PgStore,
  filter: SnapshotFilter | 'all' = 'all',
): Promise<Snapshot> {
  const dir = mkdtempSync(join(tmpdir(), 'intentguard-pg-'));
  const path = join(dir, 'copy.db');
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const target = openStore(path);
    try {
      await copy(pgStore, target, filter);
    } finally {
      target.close();
    }
    writeKeyFile(`${path}.key`, pgStore.key, pgStore.epoch);
    for (const [epoch, key] of pgStore.keys)
      if (epoch !== pgStore.epoch) writeKeyFile(`${path}.key.${epoch}`, key, epoch);
    const store = openStore(path, { readonly: true });
    return {
      store,
      path,
      close() {
        store.close();
        remove();
      },
    };
  } catch (e) {
    remove();
    throw e;
  }
}

async function copy(pgStore: PgStore, target: Store, filter: SnapshotFilter | 'all'): Promise<void> {
  const client = await pgStore.pg.pool.connect().catch((e: unknown) => {
    throw pgError(e, pgStore.display);
  });
  const inserts = new Map<string, (row: SqlRow) => void>();
  const put = (table: string, rows: SqlRow[]) => {
    if (rows.length === 0) return;
    let insert = inserts.get(table);
    if (!insert) {
      const cols = Object.keys(rows[0]!);
      const stmt = target.db.prepare(
        `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`,
      );
      insert = (row) => stmt.run(row);
      inserts.set(table, insert);
    }
    target.db.transaction(() => {
      for (const r of rows) insert(r);
    })();
  };
  /** Every row of a table (matching `where`), in rowid order, a page at a time. */
  const pages = async (table: string, where = 'TRUE', params: unknown[] = []) => {
    let after = 0;
    for (;;) {
      const r = await client.query<SqlRow>(
        `SELECT * FROM ${table} WHERE rowid > $1 AND (${where}) ORDER BY rowid LIMIT ${PAGE}`,
        [after, ...params],
      );
      put(table, r.rows);
      if (r.rows.length < PAGE) return;
      after = r.rows[r.rows.length - 1]!.rowid as number;
    }
  };
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (filter === 'all') {
      for (const t of ['sessions', ...CHILDREN]) await pages(t);
    } else {
      const sessions =
        filter.session !== undefined
          ? await client.query<SqlRow>('SELECT * FROM sessions WHERE id = $1 AND started_at >= $2', [
              filter.session,
              filter.since ?? 0,
            ])
          : await client.query<SqlRow>(
              `SELECT * FROM (SELECT * FROM sessions WHERE started_at >= $1 ORDER BY rowid DESC${filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : ''}) s ORDER BY rowid`,
              [filter.since ?? 0],
            );
      put('sessions', sessions.rows);
      const ids = sessions.rows.map((s) => s.id as string);
      for (let i = 0; i < ids.length; i += PAGE) {
        const some = ids.slice(i, i + PAGE);
        for (const t of CHILDREN) await pages(t, 'session_id = ANY($2)', [some]);
      }
    }
    for (const t of SHARED) await pages(t);
    await client.query('COMMIT');
    client.release();
  } catch (e) {
    client.release(true);
    throw pgError(e, pgStore.display);
  }
}
