import { randomBytes } from 'node:crypto';
import { copyFileSync, chmodSync } from 'node:fs';
import { IntentGuardError } from '../errors.js';
import { alive, anchoredTransaction, currentHeads, readAnchor, type Anchor } from './anchor.js';
import { appendAnchorRow, verifyAudit } from './audit.js';
import { GENESIS, fingerprint, writeKeyFile } from './chain.js';
import type { Store } from './db.js';

/**
 * `intentguard audit rotate-key`: start a new audit key. The old key is kept beside the database as
 * `<db>.key.<epoch>` (older rows verify with it), and a hand-over record is appended to the anchors
 * chain, HMAC'd with the old key: the new epoch, the new key's fingerprint, and the heads of the
 * sessions, approvals and revocations chains it takes over from. Refused while another process records
 * into the database (its writer would go on with the old key) and when the record does not verify (a
 * rotation must not vouch for tampered rows). Returns the new epoch; the store is closed (reopen it).
 */
export function rotateAuditKey(store: Store, now: number): { epoch: number; fingerprint: string } {
  if (store.path === ':memory:')
    throw new IntentGuardError('ERR_STORE', 'an in-memory database has no key file to rotate');
  const busy = (readAnchor(store.path, store.keys).anchor?.writers ?? []).filter(
    (p) => p !== process.pid && alive(p),
  );
  if (busy.length > 0)
    throw new IntentGuardError(
      'ERR_STORE',
      `processes ${busy.join(', ')} are recording into ${store.path}; stop them before rotating the audit key`,
    );
  const report = verifyAudit(store);
  if (report.problems.length > 0) {
    const p = report.problems[0]!;
    throw new IntentGuardError(
      'ERR_STORE',
      `the record does not verify (${p.table} row ${p.rowid}: ${p.kind}: ${p.detail}); a rotation would vouch for it — investigate first`,
    );
  }
  const epoch = Math.max(...store.keys.keys()) + 1;
  const next = randomBytes(32);
  const retired = `${store.path}.key.${store.epoch}`;
  copyFileSync(`${store.path}.key`, retired);
  chmodSync(retired, 0o600);
  // The hand-over row is HMAC'd with the old key; the anchor written after it with the new one.
  anchoredTransaction({ ...store, key: next, epoch, keys: new Map(store.keys).set(epoch, next) }, () => {
    const h = currentHeads(store.db);
    const detail = handoverDetail(epoch, store.epoch, next, h);
    const sessionPrev =
      h.sessions?.hash ??
      (store.db
        .prepare('SELECT session_prev_hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1')
        .pluck()
        .get() as string | undefined) ??
      GENESIS;
    appendAnchorRow(store, 'rotate', now, detail, sessionPrev, store.key);
    writeKeyFile(`${store.path}.key`, next, epoch);
  });
  store.close();
  return { epoch, fingerprint: fingerprint(next) };
}

/**
 * The detail of a key hand-over anchor row, the same on both backends so verification reads them alike:
 * the new epoch, the one it replaces, the new key's fingerprint, and the chain heads it was taken at.
 */
export function handoverDetail(epoch: number, from: number, next: Buffer, h: Anchor['heads']): string {
  return JSON.stringify({
    epoch,
    from,
    fingerprint: fingerprint(next),
    heads: {
      sessions: h.sessions?.rowid ?? 0,
      approvals: h.approvals?.rowid ?? 0,
      revocations: h.revocations?.rowid ?? 0,
    },
    hashes: h,
  });
}
