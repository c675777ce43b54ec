import type pg from 'pg';
import { GENESIS, HASHED, fieldsOf, link } from '../chain.js';

/** The newest anchor row's hash and session link (undefined on an empty chain). */
export async function lastAnchor(
  client: pg.PoolClient,
): Promise<{ hash: string; session_prev_hash: string } | undefined> {
  return (
    await client.query<{ hash: string; session_prev_hash: string }>(
      'SELECT hash, session_prev_hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1',
    )
  ).rows[0];
}

/**
 * Append one row to a PostgreSQL store's anchors chain, HMAC'd with `key` after the newest row (as
 * `appendAnchorRow` does for SQLite). Call inside the transaction that holds the chain's lock.
 */
export async function appendPgAnchor(
  client: pg.PoolClient,
  key: Buffer,
  row: { kind: string; at: number; detail: string; session_prev_hash: string },
  prevHash = GENESIS,
): Promise<void> {
  await client.query(
    'INSERT INTO audit_anchors (kind, at, detail, session_prev_hash, hash, prev_hash) VALUES ($1, $2, $3, $4, $5, $6)',
    [
      row.kind,
      row.at,
      row.detail,
      row.session_prev_hash,
      link(key, prevHash, fieldsOf(row, HASHED.anchors)),
      prevHash,
    ],
  );
}
