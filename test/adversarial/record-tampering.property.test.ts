// Issue 13, property-style: any single-row edit, delete, insert or reorder, in any table of a recorded
// database, is reported by `audit verify`. One database is recorded (sessions with several decisions
// and alerts, approvals, revocations, a halt, a prune anchor); each run tampers with a fresh copy.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { createApprovals } from '../../src/approvals/approvals.js';
import { createMonitor, parseIntent, type Monitor } from '../../src/index.js';
import { createRevocations } from '../../src/identity/revocations.js';
import { pruneSessions, verifyAudit } from '../../src/store/audit.js';
import { openStore } from '../../src/store/db.js';
import { createRecorder } from '../../src/store/recorder.js';

/** Every table of the record (the outbox is a delivery queue, not part of it). */
const TABLES = [
  'sessions',
  'events',
  'decisions',
  'alerts',
  'approvals',
  'revocations',
  'audit_anchors',
] as const;
type Table = (typeof TABLES)[number];

async function recordFixture(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'ig-prop-')), 'intentguard.db');
  const store = openStore(path);
  let t = Date.parse('2026-11-26T10:00:00Z');
  const clock = () => (t += 1000);
  let monitor!: Monitor;
  const approvals = createApprovals(() => monitor, {
    store,
    clock,
    channels: [
      async (p) => ({ approved: true, approver: 'user:alice', approvalId: p.id, argsDigest: p.argsDigest }),
    ],
  });
  monitor = createMonitor({ approver: approvals.approver, clock });
  const recorder = createRecorder(store, monitor);
  const intent = parseIntent({ purpose: 'notes', tools: ['echo'], budget: { calls: 6 } });
  for (let s = 0; s < 4; s++) {
    const h = monitor.open({ intent, identity: { sub: `agent:${s}`, jti: `j-${s}` }, lifecycle: false });
    let id = 0;
    const call = async (name: string) => {
      const r = await h.observe('c2s', {
        jsonrpc: '2.0',
        id: ++id,
        method: 'tools/call',
        params: { name, arguments: { text: `${s}/${id}` } },
      });
      if (r.forward)
        await h.observe('s2c', {
          jsonrpc: '2.0',
          id,
          result: { content: [{ type: 'text', text: `${s}/${id}` }] },
        });
    };
    await call('echo');
    await call('send_email'); // held, approved: a decision, an alert, an approval
    await call('echo');
    await call('send_email');
    if (s === 3) for (let i = 0; i < 4; i++) await call('echo'); // over budget: halted
    h.close();
  }
  const revocations = createRevocations(store, clock);
  revocations.revoke({ jti: 'j-3' }, 'halted', t + 600_000);
  revocations.revoke({ sub: 'agent:gone' }, 'operator');
  revocations.revoke({ jti: 'j-9' }, 'operator');
  await recorder.close();
  monitor.close();
  // The oldest session pruned: the chain now starts at a prune anchor.
  const first = store.db
    .prepare('SELECT started_at FROM sessions ORDER BY rowid LIMIT 1 OFFSET 1')
    .pluck()
    .get() as number;
  assert.equal(pruneSessions(store, first, clock()), 1);
  assert.deepEqual(problemsOf(verifyAudit(store)), []);
  store.close();
  return path;
}

/** Problems as reported, whatever the shape of the report (the code before the fix had one `problem`). */
const problemsOf = (r: ReturnType<typeof verifyAudit>): unknown[] => {
  const x = r as unknown as { problems?: unknown[]; problem?: unknown };
  return x.problems ?? (x.problem ? [x.problem] : []);
};

function copyOf(path: string): string {
  const to = join(mkdtempSync(join(tmpdir(), 'ig-prop-run-')), 'intentguard.db');
  for (const ext of ['', '.key', '.anchor'])
    if (existsSync(`${path}${ext}`)) copyFileSync(`${path}${ext}`, `${to}${ext}`);
  return to;
}

type Tamper =
  | { op: 'edit'; table: Table; row: number; column: number; variant: number }
  | { op: 'delete'; table: Table; row: number }
  | { op: 'insert'; table: Table; row: number }
  | { op: 'reorder'; table: Table; row: number; other: number };

const tamper: fc.Arbitrary<Tamper> = fc.oneof(
  fc.record({
    op: fc.constant('edit' as const),
    table: fc.constantFrom(...TABLES),
    row: fc.nat(),
    column: fc.nat(),
    variant: fc.nat(3),
  }),
  fc.record({ op: fc.constant('delete' as const), table: fc.constantFrom(...TABLES), row: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), table: fc.constantFrom(...TABLES), row: fc.nat() }),
  fc.record({
    op: fc.constant('reorder' as const),
    table: fc.constantFrom(...TABLES),
    row: fc.nat(),
    other: fc.nat(),
  }),
);

/** A different value of the same kind (or NULL, or a value of another kind). */
function changed(v: unknown, variant: number): unknown {
  if (variant === 0) return v === null ? 'x' : null;
  if (typeof v === 'number') return variant === 1 ? v + 1 : variant === 2 ? -v - 1 : v + 0.5;
  if (typeof v === 'string')
    return variant === 1
      ? `${v}x`
      : variant === 2
        ? v === ''
          ? 'y'
          : ''
        : v.length > 1
          ? v.slice(0, -1)
          : `${v}z`;
  return variant;
}

/** Apply one tampering; false when it is not possible on this database (nothing to do, constraint). */
function apply(path: string, t: Tamper): string | false {
  const db = new Database(path);
  try {
    const rows = db.prepare(`SELECT rowid AS _rowid, * FROM ${t.table} ORDER BY rowid`).all() as Record<
      string,
      unknown
    >[];
    if (rows.length === 0) return false;
    const r = rows[t.row % rows.length]!;
    const columns = Object.keys(r).filter((c) => c !== '_rowid' && c !== 'rowid');
    const where = `rowid = ${r._rowid as number}`;
    switch (t.op) {
      case 'edit': {
        const column = columns[t.column % columns.length]!;
        const value = changed(r[column], t.variant);
        db.prepare(`UPDATE ${t.table} SET ${column} = ? WHERE ${where}`).run(value as never);
        return `edit ${t.table} row ${r._rowid as number} ${column}: ${JSON.stringify(r[column])} → ${JSON.stringify(value)}`;
      }
      case 'delete':
        db.exec(`DELETE FROM ${t.table} WHERE ${where}`);
        return `delete ${t.table} row ${r._rowid as number}`;
      case 'insert': {
        // A copy of a genuine row (hash and all), made to fit the unique constraints, at the end.
        const copy = { ...r };
        delete copy._rowid;
        delete copy.rowid;
        if (typeof copy.id === 'string') copy.id = `${copy.id}-copy`;
        if (t.table === 'events')
          copy.seq =
            (db
              .prepare('SELECT max(seq) FROM events WHERE session_id = ?')
              .pluck()
              .get(copy.session_id) as number) + 1;
        const cols = Object.keys(copy);
        db.prepare(
          `INSERT INTO ${t.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
        ).run(...(cols.map((c) => copy[c]) as never[]));
        return `insert a copy of ${t.table} row ${r._rowid as number}`;
      }
      case 'reorder': {
        // Two rows trade places: for events (read in seq order) their seq; elsewhere their rowid. Rows of
        // a per-session chain trade places within their session.
        const peers = rows.filter(
          (o) =>
            o !== r && (!('session_id' in r) || t.table === 'approvals' || o.session_id === r.session_id),
        );
        if (peers.length === 0) return false;
        const o = peers[t.other % peers.length]!;
        if (t.table === 'events') {
          db.transaction(() => {
            db.prepare('UPDATE events SET seq = -1 WHERE rowid = ?').run(r._rowid as number);
            db.prepare('UPDATE events SET seq = ? WHERE rowid = ?').run(r.seq as number, o._rowid as number);
            db.prepare('UPDATE events SET seq = ? WHERE rowid = ?').run(o.seq as number, r._rowid as number);
          })();
        } else {
          db.transaction(() => {
            db.prepare(`UPDATE ${t.table} SET rowid = -1 WHERE rowid = ?`).run(r._rowid as number);
            db.prepare(`UPDATE ${t.table} SET rowid = ? WHERE rowid = ?`).run(
              r._rowid as number,
              o._rowid as number,
            );
            db.prepare(`UPDATE ${t.table} SET rowid = ? WHERE rowid = -1`).run(o._rowid as number);
          })();
        }
        return `swap ${t.table} rows ${r._rowid as number} and ${o._rowid as number}`;
      }
    }
  } catch (e) {
    if (/constraint|datatype mismatch/i.test((e as Error).message)) return false;
    throw e;
  } finally {
    db.close();
  }
}

describe('issue 13 (property): every single-row tampering of a recorded database is reported', () => {
  it('random edits, deletes, inserts and reorders across every table', async () => {
    const fixture = await recordFixture();
    const seen = new Set<string>();
    fc.assert(
      fc.property(tamper, (t) => {
        const path = copyOf(fixture);
        const what = apply(path, t);
        fc.pre(what !== false);
        seen.add(`${t.op} ${t.table}`);
        const store = openStore(path, { readonly: true });
        try {
          const r = verifyAudit(store);
          assert.ok(!r.ok && problemsOf(r).length > 0, `${what as string}: not reported`);
        } finally {
          store.close();
        }
      }),
      { numRuns: 300, seed: Number(process.env.FC_SEED ?? 13) },
    );
    // The runs covered every kind of tampering on every table.
    for (const op of ['edit', 'delete', 'insert', 'reorder'])
      for (const table of TABLES)
        assert.ok(
          seen.has(`${op} ${table}`) || (op === 'reorder' && table === 'audit_anchors'),
          `${op} ${table} was tried`,
        );
  });
});
