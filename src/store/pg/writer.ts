import { createHash } from 'node:crypto';
import type pg from 'pg';
import { IntentGuardError } from '../../errors.js';
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
import { KEY_EPOCH_LOCK, checkEpoch, refuseRetired } from './keys.js';
import { pgError } from './pool.js';
import type { PgStore } from './store.js';

/** The chain ends of one session as this writer last committed them. */
interface Chains {
  /**
   * The audit key this session's rows are chained with: the key of the epoch its session row was
   * written in (a session opened before a rotation and continued after it, on another instance, goes on
   * with its own key, as `audit verify` reads it: by the session row's place before the hand-over).
   */
  key: Buffer;
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
  /** Records refused by the fence so far (their session's state is owned by another instance now). */
  readonly fenced: number;
}

/**
 * A fleet instance's fencing tokens (src/fleet/sessions.ts): for each session it serves, the state key
 * whose lease it holds and the lease's epoch when it took it. A batch's records of a session whose
 * lease is no longer this instance's at that epoch (another instance took it over while this one was
 * cut off) are refused, not written: the new owner's record of the session goes on alone.
 */
export interface PgFence {
  /** This instance's lease owner id. */
  readonly owner: string;
  of(session: string): { readonly scope: string; readonly epoch: number } | undefined;
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
const unnest = (cols: readonly string[], at = 1) =>
  `unnest(${typesOf(cols)
    .map((t, i) => `$${i + at}::${t}[]`)
    .join(', ')})`;
const insertSql = (table: string, cols: readonly string[], at = 1) =>
  `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${cols.map((c) => `t.${c}`).join(', ')} FROM ${unnest(cols, at)} WITH ORDINALITY AS t(${cols.join(', ')}, ord) ORDER BY t.ord`;
const endsSql = (at = 1) =>
  `UPDATE sessions s SET ${END_COLS.slice(1)
    .map((c) => `${c} = t.${c}`)
    .join(', ')} FROM ${unnest(END_COLS, at)} AS t(${END_COLS.join(', ')}) WHERE s.id = t.id`;

const SQL = {
  sessions: insertSql('sessions', SESSION_COLS),
  events: insertSql('events', EVENT_COLS),
  decisions: insertSql('decisions', DECISION_COLS),
  alerts: insertSql('alerts', ALERT_COLS),
  ends: endsSql(),
};

/** One of the {@link SQL} statements, prepared once per connection (parsing and planning cost more than running it). */
const insert = (client: pg.PoolClient, which: keyof typeof SQL, cols: unknown[][]) =>
  client.query({ name: `ig-write-${which}`, text: SQL[which], values: cols });

/** Most event rows per INSERT statement. */
const SPILL = 2048;

/** What one commit writes besides new sessions, as column arrays. */
interface Built {
  readonly events: Columns;
  readonly decisions: Columns;
  readonly alerts: Columns;
  readonly ends: Columns;
}

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
export function createPgWriter(store: PgStore, fence?: () => PgFence | undefined): PgWriter {
  const { key } = store;
  const chains = new Map<string, Chains>();
  let fenced = 0;

  /**
   * The sessions of these batches whose records are refused: their fence's lease is not held by this
   * instance at its epoch any more. The leases read are locked (FOR SHARE) until the transaction ends,
   * so a takeover (which updates the row) waits for this batch, then rebuilds from what it wrote.
   */
  const refusedBy = async (client: pg.PoolClient, batches: readonly Rows[]): Promise<Set<string>> => {
    const refused = new Set<string>();
    const wanted = fencesOf(batches);
    if (!wanted) return refused;
    const scopes = [...new Set([...wanted.tokens.values()].map((t) => t.scope))];
    const r = await client.query<{ scope: string; epoch: number }>(
      'SELECT scope, epoch FROM state_leases WHERE scope = ANY($1) AND owner = $2 FOR SHARE',
      [scopes, wanted.owner],
    );
    const held = new Set(r.rows.map((row) => `${Number(row.epoch)}:${row.scope}`));
    for (const [id, t] of wanted.tokens) if (!held.has(`${t.epoch}:${t.scope}`)) refused.add(id);
    return refused;
  };

  /** The fencing tokens of the sessions in these batches (scopes as stored), or undefined: none. */
  const fencesOf = (batches: readonly Rows[]) => {
    const f = fence?.();
    if (!f) return undefined;
    const tokens = new Map<string, { scope: string; epoch: number }>();
    for (const rows of batches)
      for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4]) {
        const id = sessionOf(rows, i);
        const t = tokens.has(id) ? undefined : f.of(id);
        if (t) tokens.set(id, { scope: JSON.stringify(t.scope), epoch: t.epoch });
      }
    return tokens.size === 0 ? undefined : { owner: f.owner, tokens };
  };

  /**
   * The common case as one statement, no transaction around it (one round trip instead of six):
   * batches that open no session, of sessions whose chain ends this writer knows, under the spill
   * size. The statement takes the key epoch lock (shared) and locks its fence leases (FOR SHARE) as
   * the transaction would, and inserts only if the key is current and every lease is held; otherwise
   * it inserts nothing: a retired key is refused (`ERR_STORE_KEY`), a lost lease sends the batch down
   * the transaction path, which refuses that session's rows.
   */
  const fastable = (batches: readonly Rows[]): boolean => {
    let events = 0;
    for (const rows of batches)
      for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4]) {
        if (rows[i] === OPEN || !chains.has(sessionOf(rows, i))) return false;
        if (rows[i] === EVENT && ++events >= SPILL) return false;
      }
    return true;
  };

  const oneStatement = async (batches: readonly Rows[], c: Built): Promise<boolean> => {
    const params: unknown[] = [KEY_EPOCH_LOCK, store.epoch];
    const wanted = fencesOf(batches);
    let held = 'true';
    if (wanted) {
      const pairs = [...new Set([...wanted.tokens.values()].map((t) => `${t.epoch}:${t.scope}`))];
      params.push(
        pairs.map((p) => p.slice(p.indexOf(':') + 1)),
        pairs.map((p) => Number(p.slice(0, p.indexOf(':')))),
        wanted.owner,
        pairs.length,
      );
      held = `(SELECT count(*) FROM (SELECT 1 FROM state_leases WHERE owner = $5
        AND (scope, epoch) IN (SELECT * FROM unnest($3::text[], $4::bigint[])) FOR SHARE) h) = $6`;
    }
    const parts: string[] = [];
    const add = (sql: (at: number) => string, cols: unknown[][]) => {
      parts.push(sql(params.length + 1));
      params.push(...cols);
    };
    const guarded = (table: string, cols: readonly string[]) => (at: number) =>
      `${table}_ins AS (${insertSql(table, cols, at).replace(' ORDER BY t.ord', ' WHERE (SELECT ok FROM g) ORDER BY t.ord')})`;
    if (c.events.rows) add(guarded('events', EVENT_COLS), c.events.cols);
    if (c.decisions.rows) add(guarded('decisions', DECISION_COLS), c.decisions.cols);
    if (c.alerts.rows) add(guarded('alerts', ALERT_COLS), c.alerts.cols);
    if (c.ends.rows) add((at) => `ends_upd AS (${endsSql(at)} AND (SELECT ok FROM g))`, c.ends.cols);
    const text = `WITH g AS MATERIALIZED (
        SELECT (pg_advisory_xact_lock_shared($1)::text = '' AND ${held}
          AND COALESCE((SELECT max(epoch) FROM audit_keys) <= $2, true)) AS ok,
          (SELECT max(epoch) FROM audit_keys) AS newest
      ), ${parts.join(', ')}
      SELECT ok, newest FROM g`;
    // Prepared once per connection and shape (which tables, fenced or not): a few shapes in all, and
    // parsing and planning this statement costs more than running it.
    const r = await store.pg.pool.query<{ ok: boolean; newest: number | null }>({
      name: `ig-commit-${createHash('sha1').update(text).digest('hex').slice(0, 16)}`,
      text,
      values: params,
    });
    const row = r.rows[0]!;
    if (!row.ok) refuseRetired(row.newest, store.epoch, store.display, store.keyFile);
    return row.ok;
  };
  /** The key of a stored session: its epoch's (as `audit verify` reads it), which must be beside the key file. */
  const sessionKey = (
    rowid: number | null,
    rotations: readonly { epoch?: number; heads?: { sessions?: number } }[],
  ): Buffer => {
    if (rowid === null) return key;
    let epoch = 0;
    for (const r of rotations) if (r.epoch !== undefined && rowid > (r.heads?.sessions ?? 0)) epoch = r.epoch;
    const k = store.keys.get(epoch);
    if (!k)
      throw new IntentGuardError(
        'ERR_STORE_KEY',
        `${store.display}: a session recorded under key epoch ${epoch} goes on here, but the retired key ${store.keyFile}.${epoch} is not beside ${store.keyFile}: copy it here`,
      );
    return k;
  };

  /** A session this writer did not open (another instance did, or an earlier run): its stored chain ends. */
  const loadChains = async (client: pg.PoolClient, id: string): Promise<Chains> => {
    const r = await client.query<{
      rowid: number | null;
      rotations: { epoch?: number; heads?: { sessions?: number } }[] | null;
      hash: string | null;
      event: string | null;
      decision: string | null;
      alert: string | null;
      events: number;
      decisions: number;
      alerts: number;
    }>(
      `SELECT (SELECT rowid FROM sessions WHERE id = $1) AS rowid,
        (SELECT json_agg(detail::json ORDER BY rowid) FROM audit_anchors WHERE kind = 'rotate') AS rotations,
        (SELECT hash FROM sessions WHERE id = $1) AS hash,
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
      key: sessionKey(row.rowid, row.rotations ?? []),
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

  /**
   * Chain and write `batches`: in the transaction of `client`, or (no client: {@link fastable}
   * batches) as one statement. Undefined when that statement found a lease lost (nothing written).
   */
  const transaction = async (
    client: pg.PoolClient | undefined,
    batches: readonly Rows[],
  ): Promise<[Tally, Map<string, Chains | null>] | undefined> => {
    const tally: Tally = { events: 0, decisions: 0, alerts: 0, lastSeq: [] };
    const lastSeq = new Map<string, number>();
    /** Chain ends as this transaction leaves them (null: sealed). */
    const work = new Map<string, Chains | null>();
    // Rows chained with this process's key: refused once the key was rotated (nothing written).
    if (client) await checkEpoch(client, store, store.display);
    const refused = client ? await refusedBy(client, batches) : new Set<string>();
    const opens = client !== undefined && batches.some(hasOpen);
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
      c = known ? { ...known } : await loadChains(client!, id);
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
        if (refused.size > 0 && refused.has(sessionOf(rows, i))) {
          tally.fenced = (tally.fenced ?? 0) + 1;
          continue;
        }
        switch (rows[i]) {
          case OPEN: {
            const s = rows[i + 1] as SessionRow & Record<string, unknown>;
            const row: Record<string, unknown> = { chain_v: CHAIN_V };
            for (const f of HASHED.sessions2) if (f !== 'chain_v') row[f] = text(s[f]);
            const hash = link(key, prevSession, fieldsOf(row, HASHED.sessions2));
            sessions.push([...fieldsOf(row, HASHED.sessions2), 'open', hash, prevSession]);
            prevSession = hash;
            work.set(s.id, {
              key,
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
            const hash = link(c.key, c.event, values);
            values.push(hash, c.event);
            events.push(values);
            c.event = hash;
            c.events++;
            tally.events++;
            lastSeq.set(session, rows[i + 2] as number);
            // A long backlog goes in statements of SPILL rows: one huge array parameter is slower to
            // encode and to plan than several (measured: bench/fleet.ts).
            if (events.rows >= SPILL && client) {
              if (sessions.rows) await insert(client, 'sessions', sessions.cols);
              sessions = new Columns(SESSION_COLS.length);
              await insert(client, 'events', events.cols);
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
            const hash = link(c.key, c.decision, fields);
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
            const hash = link(c.key, c.alert, values);
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
            ends.push([e.id, ...fields, link(c.key, c.session, fields)]);
            work.set(e.id, null);
            break;
          }
          default:
            throw new Error(`recording batch is corrupt: unknown record tag ${String(rows[i])} at ${i}`);
        }
      }
    }
    tally.lastSeq = [...lastSeq];
    if (!client)
      return (await oneStatement(batches, { events, decisions, alerts, ends })) ? [tally, work] : undefined;
    // Sessions first (their rows exist before anything refers to them), seals last.
    if (sessions.rows) await insert(client, 'sessions', sessions.cols);
    if (events.rows) await insert(client, 'events', events.cols);
    if (decisions.rows) await insert(client, 'decisions', decisions.cols);
    if (alerts.rows) await insert(client, 'alerts', alerts.cols);
    if (ends.rows) await insert(client, 'ends', ends.cols);
    return [tally, work];
  };

  return {
    async commit(batches) {
      if (batches.length === 0) return { events: 0, decisions: 0, alerts: 0, lastSeq: [] };
      const fast = fastable(batches)
        ? await transaction(undefined, batches).catch((e: unknown) => {
            throw pgError(e, store.display);
          })
        : undefined;
      const [tally, work] =
        fast ?? (await store.pg.transaction(async (client) => (await transaction(client, batches))!));
      // Committed: the chain ends move on (a rolled-back transaction left them as they were).
      for (const [id, c] of work) {
        if (c) chains.set(id, c);
        else chains.delete(id);
      }
      fenced += tally.fenced ?? 0;
      return tally;
    },
    get fenced() {
      return fenced;
    },
  };
}

/** The session a record (at index `i`, its tag) belongs to. */
function sessionOf(rows: Rows, i: number): string {
  switch (rows[i]) {
    case OPEN:
      return (rows[i + 1] as SessionRow).id;
    case DECISION:
      return (rows[i + 1] as DecisionRow).session_id;
    case ALERT:
      return rows[i + 2] as string;
    case END:
      return (rows[i + 1] as EndRow).id;
    default:
      return rows[i + 1] as string;
  }
}

/** Whether a batch opens a session (walking its records by their tags). */
function hasOpen(rows: Rows): boolean {
  for (let i = 0; i < rows.length; i += 1 + WIDTH[rows[i] as 0 | 1 | 2 | 3 | 4])
    if (rows[i] === OPEN) return true;
  return false;
}
