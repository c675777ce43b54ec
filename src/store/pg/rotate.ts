import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync } from 'node:fs';
import { IntentGuardError } from '../../errors.js';
import { verifyAudit } from '../audit.js';
import { GENESIS, fingerprint, writeKeyFile } from '../chain.js';
import { handoverDetail } from '../rotate.js';
import { appendPgAnchor, lastAnchor } from './anchor-row.js';
import { KEY_EPOCH_LOCK, WRITER_PRESENCE_LOCK } from './keys.js';
import { pgSnapshot } from './snapshot.js';
import type { PgStore } from './store.js';
import { SESSIONS_CHAIN_LOCK } from './writer.js';

interface Head {
  rowid: number;
  hash: string;
}

/**
 * `intentguard audit rotate-key --store postgres://…`: what {@link rotateAuditKey} does for a SQLite file,
 * on a fleet's store. The old key is kept beside the key file as `<key file>.<epoch>`; a hand-over row,
 * HMAC'd with the old key, is appended to the anchors chain (the new epoch, the new key's fingerprint,
 * the heads of the sessions, approvals and revocations chains); the new key's fingerprint is registered
 * in `audit_keys`, after which an instance still holding the old key refuses to write (`checkEpoch`).
 * Refused while another process has the store open to write (its writer would go on with the old key)
 * and when the record does not verify. Open `store` read only (so it does not count itself).
 */
export async function rotatePgKey(
  store: PgStore,
  now: number,
): Promise<{ epoch: number; fingerprint: string }> {
  const snap = await pgSnapshot(store, 'all');
  let problem;
  try {
    problem = verifyAudit(snap.store, { anchor: false }).problems[0];
  } finally {
    snap.close();
  }
  if (problem)
    throw new IntentGuardError(
      'ERR_STORE',
      `the record does not verify (${problem.table} row ${problem.rowid}: ${problem.kind}: ${problem.detail}); a rotation would vouch for it — investigate first`,
    );
  const epoch = Math.max(...store.keys.keys()) + 1;
  const next = randomBytes(32);
  const retired = `${store.keyFile}.${store.epoch}`;
  let written = false;
  try {
    await store.pg.transaction(async (client) => {
      // Every chaining write in flight finishes first; none starts until this commits.
      await client.query('SELECT pg_advisory_xact_lock($1)::text, pg_advisory_xact_lock($2)::text', [
        KEY_EPOCH_LOCK,
        SESSIONS_CHAIN_LOCK,
      ]);
      const free = await client.query<{ free: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS free', [
        WRITER_PRESENCE_LOCK,
      ]);
      if (!free.rows[0]!.free) {
        const n = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND mode = 'ShareLock'",
          [WRITER_PRESENCE_LOCK],
        );
        throw new IntentGuardError(
          'ERR_STORE',
          `${n.rows[0]?.n ?? 'some'} intentguard processes have ${store.display} open to record: stop every instance recording there before rotating the audit key`,
        );
      }
      const newest = await client.query<{ e: number | null }>('SELECT max(epoch) AS e FROM audit_keys');
      if ((newest.rows[0]?.e ?? 0) > store.epoch)
        throw new IntentGuardError(
          'ERR_STORE_KEY',
          `${store.display} was rotated to epoch ${newest.rows[0]!.e} meanwhile; ${store.keyFile} is retired`,
        );
      const head = async (table: string): Promise<Head | undefined> =>
        (
          await client.query<Head>(
            `SELECT rowid, hash FROM ${table} WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1`,
          )
        ).rows[0];
      const h: Partial<Record<'sessions' | 'approvals' | 'revocations' | 'anchors', Head>> = {};
      const [s, a, r, x] = await Promise.all(
        ['sessions', 'approvals', 'revocations', 'audit_anchors'].map((t) => head(t)),
      );
      // As SQLite's hand-over (src/store/rotate.ts): the same detail, so verification reads both alike.
      if (s) h.sessions = { rowid: s.rowid, hash: s.hash };
      if (a) h.approvals = { rowid: a.rowid, hash: a.hash };
      if (r) h.revocations = { rowid: r.rowid, hash: r.hash };
      if (x) h.anchors = { rowid: x.rowid, hash: x.hash };
      const detail = handoverDetail(epoch, store.epoch, next, h);
      const last = await lastAnchor(client);
      await appendPgAnchor(
        client,
        store.key,
        {
          kind: 'rotate',
          at: now,
          detail,
          session_prev_hash: h.sessions?.hash ?? last?.session_prev_hash ?? GENESIS,
        },
        last?.hash,
      );
      await client.query('INSERT INTO audit_keys (epoch, fingerprint, registered_at) VALUES ($1, $2, $3)', [
        epoch,
        fingerprint(next),
        now,
      ]);
      // The files before the commit (as on SQLite): a failed commit puts the old key back.
      copyFileSync(store.keyFile, retired);
      chmodSync(retired, 0o600);
      writeKeyFile(store.keyFile, next, epoch);
      written = true;
    });
  } catch (e) {
    if (written) writeKeyFile(store.keyFile, store.key, store.epoch);
    throw e;
  }
  return { epoch, fingerprint: fingerprint(next) };
}
