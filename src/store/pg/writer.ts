import type pg from 'pg';
import { ACTION_RANK, type Action } from '../../model/policy.js';
import { CHAIN_V, GENESIS, HASHED, fieldsOf, link } from '../chain.js';
import {
  ALERT,
  DECISION,
  END,
  EVENT,
  EVENT_HASHED,
  OPEN,
  WIDTH,
  type DecisionRow,
  type EndRow,
  type Rows,
  type SessionRow,
} from '../rows.js';
import { driftOf, type SealValues } from '../seal.js';
import type { Tally } from '../writer.js';
import { checkEpoch } from './keys.js';
import type { PgStore } from './store.js';

/** The chain ends of one session as this writer last committed them. */
interface Chains {
  session: string;
  event: string;
  decision: string;
  alert: string;
  events: number;
  decisions: number;
  alerts: number;
  strongest: Action;
  flagged: number;
}

/** Chained, batched writes into PostgreSQL. */
export interface PgWriter {
  /** Chain and insert batches, in order, in one transaction; on failure nothing is written and the chains are as before. */
  commit(batches: readonly Rows[]): Promise<Tally>;
}

/** Taken (per transaction) by whoever appends to the sessions chain or cuts it (prune): one at a time across the fleet. */
export const SESSIONS_CHAIN_LOCK = 0x1a7e_5e55;

/** PostgreSQL text holds well-formed Unicode only: a lone surrogate is replaced before hashing, so what is stored is what was hashed. */
const text = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  // ES2024 string methods (Node 20 has them; the TypeScript lib here is older).
  const s = v as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return s.isWellFormed() ? v : s.toWellFormed();
};

/** The PostgreSQL type of each column written (for the `unnest` casts); every other column is text. */
const TYPES: Readonly<Record<string, string>> = {
  seq: 'bigint',
  time: 'bigint',
  call: 'bigint',
  bytes: 'bigint',
  synthetic: 'integer',
  enforced: 'integer',
  intent_version: 'bigint',
  started_at: 'bigint',
  chain_v: 'integer',
  ended_at: 'bigint',
  calls: 'bigint',
  drift: 'double precision',
  events: 'bigint',
  decisions: 'bigint',
  alerts: 'bigint',
};
const typesOf = (cols: readonly string[]) => cols.map((c) => TYPES[c] ?? 'text');

const EVENT_COLS = [...HASHED.events, 'hash', 'prev_hash'];
const DECISION_COLS = [...HASHED.decisions, 'hash', 'prev_hash'];
const ALERT_COLS = [...HASHED.alerts, 'hash', 'prev_hash'];
const SESSION_COLS = [...HASHED.sessions2, 'status', 'hash', 'prev_hash'];
const END_COLS = ['id', ...HASHED.sessionEnd2, 'end_hash'];

/** One multi-row INSERT of column arrays (`unnest`), rows kept in order (so rowids follow the chain). */
const unnest = (cols: readonly string[]) =>
  `unnest(${typesOf(cols)
    .map((t, i) => `$${i + 1}::${t}[]`)
    .join(', ')})`;
const insertSql = (table: string, cols: readonly string[]) =>
  `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${cols.map((c) => `t.${c}`).join(', ')} FROM ${unnest(cols)} WITH ORDINALITY AS t(${cols.join(', ')}, ord) ORDER BY t.ord`;

const SQL = {
  sessions: insertSql('sessions', SESSION_COLS),
  events: insertSql('events', EVENT_COLS),
  decisions: insertSql('decisions', DECISION_COLS),
  alerts: insertSql('alerts', ALERT_COLS),
  ends: `UPDATE sessions s SET ${END_COLS.slice(1)
    .map((c) => `${c} = t.${c}`)
    .join(', ')} FROM ${unnest(END_COLS)} AS t(${END_COLS.join(', ')}) WHERE s.id = t.id`,
};

/** Most event rows per INSERT statement. */
const SPILL = 2048;

/** Column arrays for one table in one transaction. */
class Columns {
  readonly cols: unknown[][];
  rows = 0;
  constructor(width: number) {
    this.cols = Array.from({ length: width }, () => []);
  }
  push(values: readonly unknown[]): void {
    for (let k = 0; k < values.length; k++) this.cols[k]!.push(values[k] ?? null);
    this.rows++;
  }
}

/**
 * The write side of recording into PostgreSQL: the same chains as the SQLite writer (src/store/writer.ts)
 * — each event, decision and alert HMAC-chained to the previous one of its session, sessions chained to
 * each other under an advisory lock (instances of a fleet append in turn), sealed when they end — with
 * one multi-row INSERT per table per batch. Chain ends advance only when the transaction commits.
 * @example const tally = await createPgWriter(store).commit([rows])
 */
export function createPgWriter(store: PgStore): PgWriter {
  const { key } = store;
  const chains = new Map<string, Chains>();

  /** A session this writer did not open (another instance did, or an earlier run): its stored chain ends. */
  const loadChains = async (client: pg.PoolClient, id: string): Promise<Chains> => {
    const r = await client.query<{
      hash: string | null;
      event: string | null;
      decision: string | null;
      alert: string | null;
      events: number;
      decisions: number;
      alerts: number;
    }>(
      `SELECT (SELECT hash FROM sessions WHERE id = $1) AS hash,
        (SELECT hash FROM events WHERE session_id = $1 ORDER BY seq DESC LIMIT 1) AS event,
        (SELECT hash FROM decisions WHERE session_id = $1 ORDER BY rowid DESC LIMIT 1) AS decision,
        (SELECT hash FROM alerts WHERE session_id = $1 ORDER BY rowid DESC LIMIT 1) AS alert,
        (SELECT count(*) FROM events WHERE session_id = $1) AS events,
        (SELECT count(*) FROM decisions WHERE session_id = $1) AS decisions,
        (SELECT count(*) FROM alerts WHERE session_id = $1) AS alerts`,
      [id],
    );
    const row = r.rows[0]!;
    const h = row.hash ?? GENESIS;
    return {
      session: h,
      event: row.event ?? h,
      decision: row.decision ?? h,
      alert: row.alert ?? h,
      events: Number(row.events),
      decisions: Number(row.decisions),
      alerts: Number(row.alerts),
      strongest: 'allow',
      flagged: 0,
    };
  };

  const transaction = async (
    client: pg.PoolClient,
    batches: readonly Rows[],
  ): Promise<[Tally, Map<string, Chains | null>]> => {
    const tally: Tally = { events: 0, decisions: 0, alerts: 0, lastSeq: [] };
    const lastSeq = new Map<string, number>();
    /** Chain ends as this transaction leaves them (null: sealed). */
    const work = new Map<string, Chains | null>();
    // Rows chained with this process's key: refused once the key was rotated (nothing written).
    await checkEpoch(client, store, store.display);
    const opens = batches.some(hasOpen);
    let prevSession = '';
    if (opens) {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SESSIONS_CHAIN_LOCK]);
      const r = await client.query<{ h: string | null }>(
        `SELECT COALESCE((SELECT hash FROM sessions ORDER BY rowid DESC LIMIT 1),
          (SELECT session_prev_hash FROM audit_anchors ORDER BY rowid DESC LIMIT 1)) AS h`,
      );
      prevSession = r.rows[0]?.h ?? GENESIS;
    }
    const chainOf = async (id: string): Promise<Chains> => {
      let c = work.get(id);
      if (c) return c;
      const known = chains.get(id);
      c = known ? { ...known } : await loadChains(client, id);
      work.set(id, c);
      return c;
    };
    let sessions = new Columns(SESSION_COLS.length);
    let events = new Columns(EVENT_COLS.length);
    const decisions = new Columns(DECISION_COLS.length);
    const alerts = new Columns(ALERT_COLS.length);
    const ends = new Columns(END_COLS.length);
    const values: unknown[] = [];
    for (const rows of batches) {
      for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4]) {
        switch (rows[i]) {
          case OPEN: {
            const s = rows[i + 1] as SessionRow & Record<string, unknown>;
            const row: Record<string, unknown> = { chain_v: CHAIN_V };
            for (const f of HASHED.sessions2) if (f !== 'chain_v') row[f] = text(s[f]);
            const hash = link(key, prevSession, fieldsOf(row, HASHED.sessions2));
            sessions.push([...fieldsOf(row, HASHED.sessions2), 'open', hash, prevSession]);
            prevSession = hash;
            work.set(s.id, {
              session: hash,
              event: hash,
              decision: hash,
              alert: hash,
              events: 0,
              decisions: 0,
              alerts: 0,
              strongest: 'allow',
              flagged: 0,
            });
            break;
          }
          case EVENT: {
            const session = rows[i + 1] as string;
            const c = work.get(session) ?? (await chainOf(session));
            values.length = 0;
            for (let k = 0; k < EVENT_HASHED; k++) values.push(text(rows[i + 1 + k]));
            const hash = link(key, c.event, values);
            values.push(hash, c.event);
            events.push(values);
            c.event = hash;
            c.events++;
            tally.events++;
            lastSeq.set(session, rows[i + 2] as number);
            // A long backlog goes in statements of SPILL rows: one huge array parameter is slower to
            // encode and to plan than several (measured: bench/fleet.ts).
            if (events.rows >= SPILL) {
              if (sessions.rows) await client.query(SQL.sessions, sessions.cols);
              sessions = new Columns(SESSION_COLS.length);
              await client.query(SQL.events, events.cols);
              events = new Columns(EVENT_COLS.length);
            }
            break;
          }
          case DECISION: {
            const { flagged, ...d } = rows[i + 1] as DecisionRow;
            const c = work.get(d.session_id) ?? (await chainOf(d.session_id));
            c.flagged += flagged;
            if (ACTION_RANK[d.action as Action] > ACTION_RANK[c.strongest]) c.strongest = d.action as Action;
            const fields = fieldsOf(d as unknown as Record<string, unknown>, HASHED.decisions).map(text);
            const hash = link(key, c.decision, fields);
            decisions.push([...fields, hash, c.decision]);
            c.decision = hash;
            c.decisions++;
            tally.decisions++;
            break;
          }
          case ALERT: {
            const session = rows[i + 2] as string;
            const c = work.get(session) ?? (await chainOf(session));
            values.length = 0;
            for (let k = 0; k < WIDTH[ALERT]; k++) values.push(text(rows[i + 1 + k]));
            const hash = link(key, c.alert, values);
            values.push(hash, c.alert);
            alerts.push(values);
            c.alert = hash;
            c.alerts++;
            tally.alerts++;
            break;
          }
          case END: {
            const e = rows[i + 1] as EndRow;
            const c = work.get(e.id) ?? (await chainOf(e.id));
            const v: SealValues = {
              id: e.id,
              ended_at: e.ended_at,
              outcome: c.strongest,
              calls: e.calls,
              drift: driftOf(c.flagged, e.calls),
              status: text(e.status) as string,
              events: c.events,
              last_event_hash: c.event,
              decisions: c.decisions,
              last_decision_hash: c.decision,
              alerts: c.alerts,
              last_alert_hash: c.alert,
              seal_note: null,
            };
            const fields = fieldsOf(v as unknown as Record<string, unknown>, HASHED.sessionEnd2);
            ends.push([e.id, ...fields, link(key, c.session, fields)]);
            work.set(e.id, null);
            break;
          }
          default:
            throw new Error(`recording batch is corrupt: unknown record tag ${String(rows[i])} at ${i}`);
        }
      }
    }
    // Sessions first (their rows exist before anything refers to them), seals last.
    if (sessions.rows) await client.query(SQL.sessions, sessions.cols);
    if (events.rows) await client.query(SQL.events, events.cols);
    if (decisions.rows) await client.query(SQL.decisions, decisions.cols);
    if (alerts.rows) await client.query(SQL.alerts, alerts.cols);
    if (ends.rows) await client.query(SQL.ends, ends.cols);
    tally.lastSeq = [...lastSeq];
    return [tally, work];
  };

  return {
    async commit(batches) {
      if (batches.length === 0) return { events: 0, decisions: 0, alerts: 0, lastSeq: [] };
      const [tally, work] = await store.pg.transaction((client) => transaction(client, batches));
      // Committed: the chain ends move on (a rolled-back transaction left them as they were).
      for (const [id, c] of work) {
        if (c) chains.set(id, c);
        else chains.delete(id);
      }
      return tally;
    },
  };
}

/** Whether a batch opens a session (walking its records by their tags). */
function hasOpen(rows: Rows): boolean {
  for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4])
    if (rows[i] === OPEN) return true;
  return false;
}
