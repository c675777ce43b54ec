import type Database from 'better-sqlite3';
import { ACTION_RANK, type Action } from '../model/policy.js';
import { alive, anchoredTransaction, readAnchor, type AnchorStore, type OpenHead } from './anchor.js';
import { GENESIS, HASHED, fieldsOf, link } from './chain.js';
import type { SqlRow } from './rows.js';

/** What a session's seal covers (chain version 2), besides the session row's own hash. */
export interface SealValues {
  id: string;
  ended_at: number;
  outcome: string;
  calls: number;
  drift: number;
  status: string;
  events: number;
  last_event_hash: string;
  decisions: number;
  last_decision_hash: string;
  alerts: number;
  last_alert_hash: string;
  seal_note: string | null;
}

/** Seal a session: its end is HMAC'd onto the session row's hash (chain version 2 fields). */
export function sealSession(db: Database.Database, key: Buffer, sessionHash: string, v: SealValues): void {
  const end_hash = link(
    key,
    sessionHash,
    fieldsOf(v as unknown as Record<string, unknown>, HASHED.sessionEnd2),
  );
  db.prepare(
    `UPDATE sessions SET ended_at = @ended_at, outcome = @outcome, calls = @calls, drift = @drift, status = @status,
    events = @events, last_event_hash = @last_event_hash, decisions = @decisions, last_decision_hash = @last_decision_hash,
    alerts = @alerts, last_alert_hash = @last_alert_hash, seal_note = @seal_note, end_hash = @end_hash WHERE id = @id`,
  ).run({ ...v, end_hash });
}

/** Share of calls stopped by a decision, as the writer computes it. */
export const driftOf = (flagged: number, calls: number): number =>
  calls === 0 ? 0 : Math.round((flagged / calls) * 1000) / 1000;

/** The store fields the sealer needs. */
export type SealStore = AnchorStore & { readonly keys: ReadonlyMap<number, Buffer> };

/**
 * Seal the sessions whose recording process died (crash, `kill -9`): at the next start of any
 * intentguard process that opens the database for writing. Each is sealed from its chained rows as
 * "ended without seal at event N" (N events recorded), with outcome, calls and drift recomputed from
 * them and the head anchor's last view of the session kept in `seal_note` (so `audit verify` can tell a
 * tail cut before the seal). A session still recorded by a live process is left alone, and so is an
 * unsealed session the anchor does not list as open (its seal was removed, or there is no authentic
 * anchor: `audit verify` reports it).
 * Returns the ids sealed.
 */
export function sealAbandoned(store: SealStore, now: number): string[] {
  if (store.path === ':memory:') return [];
  const { db } = store;
  const unsealed = () =>
    db
      .prepare('SELECT rowid, id, hash, started_at FROM sessions WHERE end_hash IS NULL ORDER BY rowid')
      .all() as { rowid: number; id: string; hash: string; started_at: number }[];
  if (unsealed().length === 0) return [];
  return anchoredTransaction(
    store,
    () => {
      const read = readAnchor(store.path, store.keys);
      // Without an authentic anchor nothing says which process records what (a deleted or forged
      // anchor, or a database from before anchors): leave it to `audit verify` to report.
      if (!read.anchor) return [];
      const head = read.anchor.heads.sessions?.rowid ?? 0;
      const sealed: string[] = [];
      for (const s of unsealed()) {
        const entry = read.anchor.open[s.id];
        // Listed as open: sealed when its process is gone. Not listed and newer than the anchor: written
        // by a process that died between its commit and its anchor (the anchor lock is ours, so no
        // commit is in flight). Not listed and older: its seal was removed — left for verify to report.
        if (entry ? alive(entry.pid) : s.rowid <= head) continue;
        sealSession(db, store.key, s.hash, abandonedSeal(db, s, entry, now));
        sealed.push(s.id);
      }
      return sealed;
    },
    (a, sealed) => {
      for (const id of sealed) delete a.open[id];
    },
  );
}

function abandonedSeal(
  db: Database.Database,
  s: { id: string; hash: string; started_at: number },
  entry: OpenHead | undefined,
  now: number,
): SealValues {
  const ev = db
    .prepare(
      `SELECT count(*) AS n, max(time) AS last, sum(kind = 'request' AND tool IS NOT NULL) AS calls FROM events WHERE session_id = ?`,
    )
    .get(s.id) as { n: number; last: number | null; calls: number | null };
  const lastEvent = db
    .prepare('SELECT hash FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1')
    .get(s.id) as { hash: string } | undefined;
  const dec = db.prepare('SELECT count(*) AS n FROM decisions WHERE session_id = ?').get(s.id) as {
    n: number;
  };
  const lastDecision = db
    .prepare('SELECT hash FROM decisions WHERE session_id = ? ORDER BY rowid DESC LIMIT 1')
    .get(s.id) as { hash: string } | undefined;
  const al = db.prepare('SELECT count(*) AS n FROM alerts WHERE session_id = ?').get(s.id) as { n: number };
  const lastAlert = db
    .prepare('SELECT hash FROM alerts WHERE session_id = ? ORDER BY rowid DESC LIMIT 1')
    .get(s.id) as { hash: string } | undefined;
  const actions = db
    .prepare('SELECT DISTINCT action FROM decisions WHERE session_id = ?')
    .pluck()
    .all(s.id) as Action[];
  const flagged = (
    db
      .prepare(
        `SELECT count(*) AS n FROM decisions d JOIN events e ON e.session_id = d.session_id AND e.seq = d.seq
    WHERE d.session_id = ? AND d.call IS NOT NULL AND e.kind = 'request' AND d.action != 'allow'`,
      )
      .get(s.id) as { n: number }
  ).n;
  let outcome: Action = 'allow';
  for (const a of actions) if ((ACTION_RANK[a] ?? 0) > ACTION_RANK[outcome]) outcome = a;
  const calls = ev.calls ?? 0;
  return {
    id: s.id,
    ended_at: ev.last ?? s.started_at,
    outcome,
    calls,
    drift: driftOf(flagged, calls),
    status: `ended without seal at event ${ev.n}`,
    events: ev.n,
    last_event_hash: lastEvent?.hash ?? s.hash,
    decisions: dec.n,
    last_decision_hash: lastDecision?.hash ?? s.hash,
    alerts: al.n,
    last_alert_hash: lastAlert?.hash ?? s.hash,
    seal_note: JSON.stringify({ unsealed: true, sealedAt: now, by: process.pid, anchor: entry ?? null }),
  };
}

/**
 * Chain rows written before chain version 2 (alerts, approvals, revocations had no hash): run once,
 * when a database is migrated to version 2, so every row from then on is covered.
 */
export function adoptLegacyRows(db: Database.Database, key: Buffer): void {
  db.transaction(() => {
    const alertHeads = new Map<string, string>();
    const sessionHash = db.prepare('SELECT hash FROM sessions WHERE id = ?').pluck();
    for (const a of db
      .prepare('SELECT rowid, * FROM alerts WHERE hash IS NULL ORDER BY rowid')
      .all() as SqlRow[]) {
      const prev =
        alertHeads.get(a.session_id) ?? (sessionHash.get(a.session_id) as string | undefined) ?? GENESIS;
      const hash = link(key, prev, fieldsOf(a, HASHED.alerts));
      db.prepare('UPDATE alerts SET hash = ?, prev_hash = ? WHERE rowid = ?').run(hash, prev, a.rowid);
      alertHeads.set(a.session_id, hash);
    }
    for (const table of ['approvals', 'revocations'] as const) {
      let prev = GENESIS;
      for (const r of db
        .prepare(`SELECT rowid, * FROM ${table} WHERE hash IS NULL ORDER BY rowid`)
        .all() as SqlRow[]) {
        const hash = link(key, prev, fieldsOf(r, HASHED[table]));
        db.prepare(`UPDATE ${table} SET hash = ?, prev_hash = ? WHERE rowid = ?`).run(hash, prev, r.rowid);
        if (
          table === 'approvals' &&
          r.status !== 'pending' &&
          r.status !== 'cli-approved' &&
          r.status !== 'cli-denied'
        ) {
          db.prepare('UPDATE approvals SET decision_hash = ? WHERE rowid = ?').run(
            link(key, hash, fieldsOf(r, HASHED.approvalDecision)),
            r.rowid,
          );
        }
        prev = hash;
      }
    }
  })();
}
