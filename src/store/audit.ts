import {
  alive,
  anchoredTransaction,
  lockAnchor,
  readAnchor,
  type Anchor,
  type AnchorRead,
  type OpenHead,
} from './anchor.js';
import { GENESIS, HASHED, fieldsOf, link } from './chain.js';
import { digestMatches } from './grant-requests.js';
import type { Store } from './db.js';
import type { SqlRow } from './rows.js';

/** The tables (and the head anchor file) `audit verify` checks. */
type AuditTable =
  | 'sessions'
  | 'events'
  | 'decisions'
  | 'alerts'
  | 'approvals'
  | 'grant_requests'
  | 'revocations'
  | 'audit_anchors'
  | 'anchor';

/**
 * Why a row is bad. `edited`: its contents do not match its hash. `inserted`: not written by
 * intentguard (no valid hash, out of place). `deleted`: a row before it, or its seal, is missing.
 * `reordered`: a genuine row out of its place. `truncated`: rows deleted from the end (found against a
 * seal or the head anchor). `unsealed`: a session that ended without its seal (its process died).
 */
type AuditKind = 'edited' | 'inserted' | 'deleted' | 'reordered' | 'truncated' | 'unsealed';

export interface AuditProblem {
  readonly table: AuditTable;
  readonly rowid: number;
  readonly session?: string;
  readonly seq?: number;
  readonly kind: AuditKind;
  readonly detail: string;
}

export interface AuditReport {
  /** No problem and no unsealed session. */
  readonly ok: boolean;
  readonly checked: {
    sessions: number;
    events: number;
    decisions: number;
    alerts: number;
    approvals: number;
    grantRequests: number;
    revocations: number;
    anchors: number;
  };
  /** The first bad row of each table, in table order. */
  readonly problems: readonly AuditProblem[];
  /** The first of `problems` (kept for callers of earlier versions). */
  readonly problem?: AuditProblem;
  /** Sessions that ended without their seal: not sealed yet (process dead), or sealed after the fact. */
  readonly unsealed: readonly AuditProblem[];
  /** Sessions being recorded now by a live process. */
  readonly live: readonly string[];
}

type Row = SqlRow;

/** One epoch change: rows after these rowids use the next key. */
interface Rotation {
  epoch: number;
  sessions: number;
  approvals: number;
  revocations: number;
}

/**
 * Verify everything recorded: the hash chains (sessions in order from the last prune anchor; per
 * session its events, decisions and alerts; approvals and revocations in order; the anchors chain with
 * its key hand-overs), each session's seal, and the head anchor file beside the key (so rows deleted
 * from the end, removed seals and deleted revocations are found). Reports the first bad row of each
 * table with the reason, and every session that ended without its seal.
 * @example verifyAudit(openStore('intentguard.db', { readonly: true })).problems
 */
export function verifyAudit(store: Store, options: { anchor?: boolean } = {}): AuditReport {
  const { db } = store;
  // No head anchor: a copy of a PostgreSQL store's rows (its chains and seals are checked; see README).
  if (options.anchor === false) return verifyWith(store, {}, false);
  if (db.inTransaction || store.path === ':memory:')
    return verifyWith(store, store.path === ':memory:' ? {} : readAnchor(store.path, store.keys));
  // The anchor and a read snapshot of the database taken together, while no commit is in flight (under
  // the anchor lock when this process may take it): the rows are then exactly those the anchor saw, or more.
  let release: (() => void) | undefined;
  try {
    release = lockAnchor(store.path, store.busyTimeoutMs);
  } catch {
    release = undefined; // a read-only directory, or a writer holding on: verify what is there
  }
  let read: AnchorRead;
  try {
    read = readAnchor(store.path, store.keys);
    db.exec('BEGIN');
    db.prepare('SELECT count(*) FROM sessions').get();
  } finally {
    release?.();
  }
  try {
    return verifyWith(store, read);
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
}

function verifyWith(store: Store, read: AnchorRead, anchored = store.path !== ':memory:'): AuditReport {
  const { db } = store;
  const checked = {
    sessions: 0,
    events: 0,
    decisions: 0,
    alerts: 0,
    approvals: 0,
    grantRequests: 0,
    revocations: 0,
    anchors: 0,
  };
  const first = new Map<AuditTable, AuditProblem>();
  const report = (p: AuditProblem) => {
    if (!first.has(p.table)) first.set(p.table, p);
  };
  const unsealed: AuditProblem[] = [];
  const live: string[] = [];

  const anchor = read.anchor;
  if (read.error) report({ table: 'anchor', rowid: 0, kind: 'edited', detail: read.error });
  if (anchor?.note)
    report({
      table: 'anchor',
      rowid: 0,
      kind: 'edited',
      detail: `an earlier head anchor was bad: ${anchor.note}`,
    });
  const recorded =
    (db.prepare('SELECT count(*) FROM sessions WHERE chain_v IS NOT NULL').pluck().get() as number) > 0;
  if (!read.anchor && !read.error && recorded && anchored)
    report({
      table: 'anchor',
      rowid: 0,
      kind: 'deleted',
      detail:
        'the head anchor file beside the database is missing (deleted): rows removed from the end cannot be ruled out',
    });

  // The anchors chain first: prune points and key hand-overs.
  const { keyFor, sessionStart, count } = anchorsChain(store, anchor, report);
  checked.anchors = count;

  // Sessions, and per session its events, decisions, alerts and seal.
  const sessions = db.prepare('SELECT rowid, * FROM sessions ORDER BY rowid').all() as Row[];
  const events = db.prepare('SELECT rowid, * FROM events WHERE session_id = ? ORDER BY seq');
  const decisions = db.prepare('SELECT rowid, * FROM decisions WHERE session_id = ? ORDER BY rowid');
  const alerts = db.prepare('SELECT rowid, * FROM alerts WHERE session_id = ? ORDER BY rowid');
  walk(
    'sessions',
    sessions,
    sessionStart,
    (r) => (r.chain_v === null ? HASHED.sessions : HASHED.sessions2),
    (r) => keyFor('sessions', r.rowid),
    (s) => {
      checked.sessions++;
      const key = keyFor('sessions', s.rowid);
      if (!key) return;
      const at = { session: s.id as string };
      const ev = events.all(s.id) as Row[];
      checked.events += ev.length;
      let expect = 0;
      for (const e of ev) {
        if (e.seq !== expect) {
          report({
            table: 'events',
            rowid: e.rowid,
            ...at,
            seq: expect,
            kind: 'deleted',
            detail: `event seq ${expect} of session ${s.id} is missing (deleted); the next present is ${e.seq}`,
          });
          break;
        }
        expect++;
      }
      const eHashes = walk(
        'events',
        ev,
        s.hash,
        HASHED.events,
        () => key,
        () => {},
        report,
        undefined,
        at,
      );
      const dec = decisions.all(s.id) as Row[];
      checked.decisions += dec.length;
      const dHashes = walk(
        'decisions',
        dec,
        s.hash,
        HASHED.decisions,
        () => key,
        () => {},
        report,
        undefined,
        at,
      );
      const al = (alerts.all(s.id) as Row[]).filter((a) => a.hash !== null || s.chain_v !== null);
      checked.alerts += al.length;
      const aHashes = walk(
        'alerts',
        al,
        s.hash,
        HASHED.alerts,
        () => key,
        () => {},
        report,
        undefined,
        at,
      );
      const tails = {
        events: { rows: ev, hashes: eHashes },
        decisions: { rows: dec, hashes: dHashes },
        alerts: { rows: al, hashes: aHashes },
      };

      if (s.end_hash !== null) {
        const v2 = s.chain_v !== null;
        if (link(key, s.hash, fieldsOf(s, v2 ? HASHED.sessionEnd2 : HASHED.sessionEnd)) !== s.end_hash) {
          report({
            table: 'sessions',
            rowid: s.rowid,
            ...at,
            kind: 'edited',
            detail: `session ${s.id}: its end (outcome, calls, drift, status, counts) does not match its seal`,
          });
          return;
        }
        sealedTail(tails.events, s.events, s.last_event_hash, s.hash, 'events', at, report);
        if (v2) {
          sealedTail(tails.decisions, s.decisions, s.last_decision_hash, s.hash, 'decisions', at, report);
          sealedTail(tails.alerts, s.alerts, s.last_alert_hash, s.hash, 'alerts', at, report);
        } else if ((dHashes[dHashes.length - 1] ?? s.hash) !== s.last_decision_hash) {
          report({
            table: 'decisions',
            rowid: dec[dec.length - 1]?.rowid ?? s.rowid,
            ...at,
            kind: 'truncated',
            detail: `decisions of session ${s.id} were deleted from its end`,
          });
        }
        if (s.seal_note !== null) {
          const note = safeJson(s.seal_note) as { anchor?: OpenHead | null; sealedAt?: number } | undefined;
          unsealed.push({
            table: 'sessions',
            rowid: s.rowid,
            ...at,
            kind: 'unsealed',
            detail: `session ${s.id} ${s.status}: its process ended without sealing it; sealed after the fact${note?.sealedAt ? ` at ${new Date(note.sealedAt).toISOString()}` : ''}`,
          });
          if (note?.anchor) anchoredTails(tails, note.anchor, s, report, 'when it was sealed after the fact');
        }
        return;
      }
      // Not sealed: live, or its process died, or its seal was removed.
      const ends = [
        'ended_at',
        'outcome',
        'calls',
        'drift',
        'events',
        'last_event_hash',
        'decisions',
        'last_decision_hash',
        'alerts',
        'last_alert_hash',
        'seal_note',
      ].filter((c) => s[c] !== null);
      if (ends.length > 0 || s.status !== 'open') {
        report({
          table: 'sessions',
          rowid: s.rowid,
          ...at,
          kind: 'edited',
          detail: `session ${s.id} has no seal but its end is filled in (${[...ends, ...(s.status !== 'open' ? ['status'] : [])].join(', ')}): its seal was removed and its end rewritten`,
        });
        return;
      }
      const entry = anchor?.open[s.id];
      if (entry) {
        anchoredTails(tails, entry, s, report, 'in the head anchor');
        if (alive(entry.pid)) live.push(s.id);
        else
          unsealed.push({
            table: 'sessions',
            rowid: s.rowid,
            ...at,
            kind: 'unsealed',
            detail: `session ${s.id} ended without seal at event ${ev.length}: process ${entry.pid} died while recording it (sealed at the next start of intentguard on this database)`,
          });
        return;
      }
      if (anchor?.heads.sessions && s.rowid <= anchor.heads.sessions.rowid) {
        report({
          table: 'sessions',
          rowid: s.rowid,
          ...at,
          kind: 'deleted',
          detail: `session ${s.id} was sealed (the head anchor no longer lists it as open) but its seal was removed`,
        });
        return;
      }
      unsealed.push({
        table: 'sessions',
        rowid: s.rowid,
        ...at,
        kind: 'unsealed',
        detail: `session ${s.id} has no seal and no head anchor vouches for it (${ev.length} events)`,
      });
    },
    report,
    anchor?.heads.sessions,
    undefined,
    sessionStart,
  );

  // Rows whose session is gone.
  for (const table of ['events', 'decisions', 'alerts'] as const) {
    const orphan = db
      .prepare(
        `SELECT rowid, session_id FROM ${table} WHERE session_id NOT IN (SELECT id FROM sessions) ORDER BY rowid LIMIT 1`,
      )
      .get() as Row | undefined;
    if (orphan)
      report({
        table,
        rowid: orphan.rowid,
        session: orphan.session_id,
        kind: 'inserted',
        detail: `row of session ${orphan.session_id}, which is not in the sessions table (the session was deleted, or the row inserted)`,
      });
  }

  // Approvals: who approved what, when, with which binding.
  const approvals = db.prepare('SELECT rowid, * FROM approvals ORDER BY rowid').all() as Row[];
  walk(
    'approvals',
    approvals,
    GENESIS,
    HASHED.approvals,
    (r) => keyFor('approvals', r.rowid),
    (a) => {
      checked.approvals++;
      const key = keyFor('approvals', a.rowid);
      if (!key) return;
      if (a.decision_hash !== null) {
        if (link(key, a.hash, fieldsOf(a, HASHED.approvalDecision)) !== a.decision_hash)
          report({
            table: 'approvals',
            rowid: a.rowid,
            kind: 'edited',
            detail: `approval ${a.id}: its decision (status, approver, scope, time) does not match its hash`,
          });
        return;
      }
      if (!['pending', 'cli-approved', 'cli-denied'].includes(a.status) || a.decided_at !== null) {
        report({
          table: 'approvals',
          rowid: a.rowid,
          kind: 'edited',
          detail: `approval ${a.id} has no decision hash but reads ${a.status}: its decision was rewritten`,
        });
      } else if (
        anchor?.heads.approvals &&
        a.rowid <= anchor.heads.approvals.rowid &&
        !anchor.undecided.includes(a.rowid)
      ) {
        report({
          table: 'approvals',
          rowid: a.rowid,
          kind: 'deleted',
          detail: `approval ${a.id} was decided (the head anchor says so) but its decision was removed`,
        });
      }
    },
    report,
    anchor?.heads.approvals,
  );

  checked.grantRequests = checkGrantRequests(store, anchor, report);

  // Revocations: in order, and every one the anchor holds in force must be in the table.
  checked.revocations = checkRevocations(store, anchor, keyFor, report);

  const order: AuditTable[] = [
    'anchor',
    'audit_anchors',
    'sessions',
    'events',
    'decisions',
    'alerts',
    'approvals',
    'grant_requests',
    'revocations',
  ];
  const problems = order.flatMap((t) => (first.has(t) ? [first.get(t)!] : []));
  return {
    ok: problems.length === 0 && unsealed.length === 0,
    checked,
    problems,
    ...(problems[0] && { problem: problems[0] }),
    unsealed,
    live,
  };
}

type KeyFor = (table: 'sessions' | 'approvals' | 'revocations', rowid: number) => Buffer | undefined;

/** Walk the anchors chain (prune points, key hand-overs): which key each row uses, and where the sessions chain starts. */
function anchorsChain(
  store: Store,
  anchor: Anchor | undefined,
  report: (p: AuditProblem) => void,
): { keyFor: KeyFor; sessionStart: string; count: number } {
  const { db, keys } = store;
  const rotations: Rotation[] = [];
  let epoch = 0;
  let sessionStart = GENESIS;
  let count = 0;
  const rows = db.prepare('SELECT rowid, * FROM audit_anchors ORDER BY rowid').all() as Row[];
  walk(
    'audit_anchors',
    rows,
    GENESIS,
    HASHED.anchors,
    (r) => {
      const key = keys.get(epoch);
      // A hand-over is written with the old key; the rows after it with the new one.
      if (r.kind === 'rotate') {
        const d = safeJson(r.detail) as
          | { epoch?: number; heads?: { sessions?: number; approvals?: number; revocations?: number } }
          | undefined;
        if (d?.epoch !== undefined)
          rotations.push({
            epoch: d.epoch,
            sessions: d.heads?.sessions ?? 0,
            approvals: d.heads?.approvals ?? 0,
            revocations: d.heads?.revocations ?? 0,
          });
      }
      return key;
    },
    (r) => {
      count++;
      if (r.kind === 'rotate') epoch = rotations[rotations.length - 1]?.epoch ?? epoch;
      if (r.kind === 'prune') sessionStart = r.session_prev_hash;
    },
    report,
    anchor?.heads.anchors,
  );
  const keyFor: KeyFor = (table, rowid) => {
    let e = 0;
    for (const r of rotations) if (rowid > r[table]) e = r.epoch;
    return keys.get(e);
  };
  return { keyFor, sessionStart, count };
}

/**
 * Grant requests (the console's token endpoint): chained in insertion order from GENESIS, each row with
 * the key of the epoch it names, and bound to its approvals row (same identity, the digest of the
 * requested intent) — the checks the console makes on load, over every row — and, against the head
 * the anchor keeps, not cut short.
 */
function checkGrantRequests(
  store: Store,
  anchor: Anchor | undefined,
  report: (p: AuditProblem) => void,
): number {
  const exists = store.db
    .prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'grant_requests'")
    .pluck()
    .get() as number;
  if (!exists) return 0;
  const rows = store.db
    .prepare(
      'SELECT g.rowid, g.*, a.sub AS approval_sub, a.args_digest FROM grant_requests g LEFT JOIN approvals a ON a.id = g.id ORDER BY g.rowid',
    )
    .all() as Row[];
  let bound = true;
  walk(
    'grant_requests',
    rows,
    GENESIS,
    HASHED.grantRequests,
    (r) => store.keys.get(Number(r.epoch)),
    (r) => {
      if (!bound) return;
      const detail =
        r.approval_sub === null || r.approval_sub === undefined
          ? `grant request ${r.id} has no approvals row (its decision record was deleted)`
          : r.approval_sub !== r.sub || !digestMatches(String(r.intent_json), r.args_digest)
            ? `grant request ${r.id}: its approval was written for another identity or intent`
            : undefined;
      if (detail) {
        bound = false;
        report({ table: 'grant_requests', rowid: r.rowid, kind: 'edited', detail });
      }
    },
    report,
    anchor?.heads.grantRequests,
  );
  return rows.length;
}

function checkRevocations(
  store: Store,
  anchor: Anchor | undefined,
  keyFor: KeyFor,
  report: (p: AuditProblem) => void,
): number {
  const revocations = store.db.prepare('SELECT rowid, * FROM revocations ORDER BY rowid').all() as Row[];
  walk(
    'revocations',
    revocations,
    GENESIS,
    HASHED.revocations,
    (r) => keyFor('revocations', r.rowid),
    () => {},
    report,
    anchor?.heads.revocations,
  );
  for (const [jti, sub, expires] of anchor?.revoked ?? []) {
    if (!revocations.some((r) => r.jti === jti && r.sub === sub && r.expires_at === expires)) {
      report({
        table: 'revocations',
        rowid: 0,
        kind: 'deleted',
        detail: `the revocation of ${jti ? `grant ${jti}` : `subject ${sub}`} is in the head anchor but its row was deleted (it stays enforced)`,
      });
      break;
    }
  }
  return revocations.length;
}

/**
 * The revocation record alone, as a proxy checks it before trusting it: its chain, the head anchor,
 * and the revocations the anchor holds in force. Returns the first problem, or undefined when intact.
 */
export function revocationProblem(store: Store): AuditProblem | undefined {
  if (store.path === ':memory:') return undefined;
  const read = readAnchor(store.path, store.keys);
  if (read.error) return { table: 'anchor', rowid: 0, kind: 'edited', detail: read.error };
  const hashed = store.db
    .prepare('SELECT count(*) FROM revocations WHERE hash IS NOT NULL')
    .pluck()
    .get() as number;
  if (!read.anchor && hashed > 0)
    return {
      table: 'anchor',
      rowid: 0,
      kind: 'deleted',
      detail: 'the head anchor file beside the database is missing (deleted)',
    };
  let first: AuditProblem | undefined;
  const report = (p: AuditProblem) => {
    first ??= p;
  };
  const { keyFor } = anchorsChain(store, read.anchor, () => {});
  checkRevocations(store, read.anchor, keyFor, report);
  return first;
}

const safeJson = (text: unknown): unknown => {
  try {
    return JSON.parse(String(text));
  } catch {
    return undefined;
  }
};

/**
 * Walk one chain in order: each row must follow the previous (prev_hash) and match its hash. Reports
 * the first bad row (edited, inserted, deleted before it, reordered) and, given the head the anchor
 * recorded, whether rows were cut from the end. Returns the hashes, in order.
 */
function walk(
  table: AuditTable,
  rows: readonly Row[],
  start: string,
  fields: readonly string[] | ((r: Row) => readonly string[]),
  keyOf: (r: Row) => Buffer | undefined,
  each: (r: Row) => void,
  report: (p: AuditProblem) => void,
  head?: { rowid: number; hash: string },
  at: { session?: string } = {},
  origin = start,
): string[] {
  const position = new Map<string, number>();
  rows.forEach((r, i) => {
    if (!position.has(r.hash)) position.set(r.hash, i);
  });
  const hashes: string[] = [];
  let prev = start;
  let bad = false;
  const problem = (r: Row, kind: AuditKind, detail: string) => {
    if (bad) return;
    bad = true;
    report({
      table,
      rowid: r.rowid,
      ...at,
      ...(table === 'sessions' && { session: r.id }),
      ...(r.seq !== undefined && table !== 'decisions' && { seq: r.seq }),
      kind,
      detail,
    });
  };
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const key = keyOf(r);
    each(r);
    if (!key) {
      problem(
        r,
        'edited',
        `no audit key for this row's epoch beside the database (a retired key file is missing)`,
      );
      continue;
    }
    const names = typeof fields === 'function' ? fields(r) : fields;
    const genuine = r.hash !== null && link(key, r.prev_hash, fieldsOf(r, names)) === r.hash;
    const follows = r.prev_hash === prev;
    const what = `${table.replace(/s$/, '')} row ${r.rowid}${r.seq !== undefined && table === 'events' ? ` (seq ${r.seq})` : ''}`;
    if (genuine && follows) {
      prev = r.hash;
    } else if (!genuine && r.hash !== null && position.get(r.hash) !== i) {
      problem(r, 'inserted', `${what} was not written by intentguard (it copies the hash of another row)`);
    } else if (!genuine && follows) {
      problem(r, 'edited', `${what} does not match its hash (edited)`);
      prev = r.hash;
    } else if (!genuine) {
      // Not written by intentguard: inserted when the next row still follows the one before it.
      const next = rows[i + 1];
      if (next === undefined || next.prev_hash === prev) {
        problem(r, 'inserted', `${what} was not written by intentguard (no valid hash; the chain skips it)`);
      } else {
        problem(r, 'edited', `${what} does not match its hash (edited)`);
        prev = r.hash;
      }
    } else if ((position.get(r.prev_hash) ?? -1) > i) {
      problem(r, 'reordered', `${what} is genuine but out of place (the row it follows comes later)`);
      prev = r.hash;
    } else {
      problem(r, 'deleted', `${what} does not follow the row before it: a row before it was deleted`);
      prev = r.hash;
    }
    if (r.hash !== null) hashes.push(r.hash);
  }
  if (head && head.hash !== origin && !position.has(head.hash)) {
    const last = rows[rows.length - 1];
    const cut = last === undefined || last.rowid < head.rowid;
    report({
      table,
      rowid: head.rowid,
      ...at,
      kind: cut ? 'truncated' : 'deleted',
      detail: cut
        ? `the head anchor records ${table} row ${head.rowid} as the newest; the table ends ${last ? `at row ${last.rowid}` : 'empty'}: the newest rows were deleted`
        : `${table} row ${head.rowid}, the newest when the head anchor was written, is not there as written`,
    });
  }
  return hashes;
}

/** A sealed session's chain must end exactly where its seal says. */
function sealedTail(
  t: { rows: readonly Row[]; hashes: readonly string[] },
  count: number,
  last: string,
  start: string,
  table: 'events' | 'decisions' | 'alerts',
  at: { session: string },
  report: (p: AuditProblem) => void,
): void {
  const present = t.rows.length;
  const head = t.hashes[t.hashes.length - 1] ?? start;
  if (present === count && head === last) return;
  if (present < count) {
    report({
      table,
      rowid: t.rows[present - 1]?.rowid ?? 0,
      ...at,
      kind: 'truncated',
      detail: `session ${at.session} was sealed with ${count} ${table}; ${present} are present (deleted from its end)`,
    });
  } else if (present > count) {
    report({
      table,
      rowid: t.rows[count]?.rowid ?? 0,
      ...at,
      kind: 'inserted',
      detail: `session ${at.session} was sealed with ${count} ${table}; ${present} are present (added after its seal)`,
    });
  } else {
    report({
      table,
      rowid: t.rows[present - 1]?.rowid ?? 0,
      ...at,
      kind: 'edited',
      detail: `the last of session ${at.session}'s ${table} is not the one its seal names`,
    });
  }
}

/** The chains of a session must reach at least as far as the head anchor saw them. */
function anchoredTails(
  tails: Record<'events' | 'decisions' | 'alerts', { rows: readonly Row[]; hashes: readonly string[] }>,
  h: OpenHead,
  s: Row,
  report: (p: AuditProblem) => void,
  where: string,
): void {
  const at = { session: s.id as string };
  for (const [table, count, hash] of [
    ['events', h.events, h.event],
    ['decisions', h.decisions, h.decision],
    ['alerts', h.alerts, h.alert],
  ] as const) {
    const t = tails[table];
    if (count === 0) continue;
    if (t.rows.length < count) {
      report({
        table,
        rowid: t.rows[t.rows.length - 1]?.rowid ?? s.rowid,
        ...at,
        kind: 'truncated',
        detail: `session ${s.id}: ${count} ${table} recorded ${where}; ${t.rows.length} are present (the tail was cut)`,
      });
    } else if (t.hashes[count - 1] !== hash) {
      report({
        table,
        rowid: t.rows[count - 1]?.rowid ?? s.rowid,
        ...at,
        kind: 'edited',
        detail: `session ${s.id}: the ${table} chain does not pass through the head recorded ${where}`,
      });
    }
  }
}

/**
 * Delete ended sessions that started before `cutoff` (with their events, decisions and alerts) and
 * write a chained anchor so the remaining chain still verifies. Returns how many sessions were removed.
 */
export function pruneSessions(store: Store, cutoff: number, now: number): number {
  const { db, key } = store;
  return anchoredTransaction(store, () => {
    const old = db
      .prepare('SELECT rowid, id FROM sessions WHERE started_at < ? AND ended_at IS NOT NULL ORDER BY rowid')
      .all(cutoff) as { rowid: number; id: string }[];
    if (old.length === 0) return 0;
    // Only a prefix of the sessions chain can be cut without breaking it.
    const firstKept = db
      .prepare(
        'SELECT rowid, prev_hash FROM sessions WHERE NOT (started_at < ? AND ended_at IS NOT NULL) ORDER BY rowid LIMIT 1',
      )
      .get(cutoff) as { rowid: number; prev_hash: string } | undefined;
    const removable = old.filter((s) => firstKept === undefined || s.rowid < firstKept.rowid);
    if (removable.length === 0) return 0;
    const lastRemoved = db
      .prepare('SELECT hash FROM sessions WHERE rowid = ?')
      .get(removable[removable.length - 1]!.rowid) as { hash: string };
    for (const s of removable) {
      db.prepare('DELETE FROM events WHERE session_id = ?').run(s.id);
      db.prepare('DELETE FROM decisions WHERE session_id = ?').run(s.id);
      db.prepare('DELETE FROM alerts WHERE session_id = ?').run(s.id);
      db.prepare('DELETE FROM sessions WHERE rowid = ?').run(s.rowid);
    }
    appendAnchorRow(
      store,
      'prune',
      now,
      JSON.stringify({ cutoff, sessions: removable.length }),
      lastRemoved.hash,
      key,
    );
    return removable.length;
  });
}

/** Append a row to the anchors chain (prune points, key hand-overs), HMAC'd with `key`. */
export function appendAnchorRow(
  store: Store,
  kind: string,
  at: number,
  detail: string,
  sessionPrev: string,
  key: Buffer,
): void {
  const { db } = store;
  const prevAnchor =
    (
      db.prepare('SELECT hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1').get() as
        { hash: string } | undefined
    )?.hash ?? GENESIS;
  const row: Record<string, unknown> = { kind, at, detail, session_prev_hash: sessionPrev };
  row.prev_hash = prevAnchor;
  row.hash = link(key, prevAnchor, fieldsOf(row, HASHED.anchors));
  db.prepare(
    'INSERT INTO audit_anchors (kind, at, detail, session_prev_hash, hash, prev_hash) VALUES (@kind, @at, @detail, @session_prev_hash, @hash, @prev_hash)',
  ).run(row);
}
