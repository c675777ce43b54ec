import { IntentGuardError } from '../errors.js';
import type { Identity } from '../model/events.js';
import type { Intent } from '../model/intent.js';
import type { Monitor } from '../monitor/create.js';
import type { SessionHandle } from '../monitor/handle.js';
import { scopeKeyOf, type GrantScopes } from '../policy/grant-scope.js';
import { pgError } from '../store/pg/pool.js';
import type { PgStore } from '../store/pg/store.js';
import { pgSessionLeases, stored, type SessionLeaseOptions, type SessionLeases } from './leases.js';
import { restoreFromRecord } from './restore.js';

/** How a session reaches its client: the stateless path, Streamable HTTP to an upstream, a stdio server. */
export type FleetSessionKind = 'stateless' | 'http' | 'bridge';

/** A session of the fleet as `fleet_sessions` has it: what a new owner needs to continue it. */
export interface FleetSessionRow {
  readonly id: string;
  readonly scope: string;
  readonly kind: FleetSessionKind;
  /** The stateless key, or the client's Mcp-Session-Id (stateful). */
  readonly handle?: string | undefined;
  /** The upstream's own Mcp-Session-Id (stateful, to an HTTP upstream). */
  readonly upstreamSid?: string | undefined;
}

/** Who owns a state key now, when it is not this instance. */
export interface ElsewhereOwned {
  readonly owner: string;
  readonly address: string;
  readonly waitMs: number;
}

/**
 * Continue here a session of a state this instance took over (restored from its record): true when
 * the carrier of its kind took it (it is served here from now on), false when it cannot go on here.
 */
export type Adopter = (row: FleetSessionRow, handle: SessionHandle) => boolean;

/** A handle as stored: a stateless key holds NULs (PostgreSQL text cannot), so its JSON string; an Mcp-Session-Id as it is. */
const handleOf = (kind: FleetSessionKind, handle: string | undefined): string | null =>
  handle === undefined ? null : kind === 'stateless' ? stored(handle) : handle;

/** A stored handle read back ({@link handleOf} undone). */
const handleFrom = (kind: FleetSessionKind, handle: string | null): string | undefined =>
  handle === null ? undefined : kind === 'stateless' ? (JSON.parse(handle) as string) : handle;

/** What the HTTP paths need to serve sessions of a fleet (src/stateless/http.ts, src/transports/http/). */
export interface FleetSessions {
  readonly leases: SessionLeases;
  /**
   * The state key a session is owned by: its grant's (or, with `statePer: principal`, its principal's),
   * so that every session of a grant is decided in one process; `own` when it has none (a session of
   * its own, such as one without a grant id).
   */
  scopeOf(identity: Identity | undefined, intent: Intent | undefined, own: string): string;
  /**
   * Make this instance the owner of `scope`, or say who is. Taking it over from another instance
   * rebuilds it first: every recorded session of the state is replayed through the monitor (its budget,
   * provenance and rates as they were), the open ones offered to the adopter of their kind.
   * Rejects when the store is away (callers refuse: fail closed).
   */
  own(scope: string, identity: Identity | undefined, intent: Intent): Promise<true | ElsewhereOwned>;
  /** This instance owns `scope` now (no query): the per-request fast path. */
  holds(scope: string): boolean;
  /**
   * Name a session opened here as one of `scope` (before its client can use it on another instance),
   * claiming `scope` first when this instance does not hold it (a session's own key); rejects when
   * another instance owns it. Again with the same id: its handle and upstream session id (once known).
   * {@link durable} waits for the names in flight.
   */
  register(row: FleetSessionRow, identity: Identity | undefined, intent: Intent): Promise<void>;
  /** The fleet's row of the session named `handle` (a stateless key, an Mcp-Session-Id), if any. */
  find(kind: FleetSessionKind, handle: string): Promise<FleetSessionRow | undefined>;
  /** Where the sessions of a kind taken over from another instance continue (one adopter per kind). */
  adopt(kind: FleetSessionKind, adopter: Adopter): void;
  /** Resolves once everything observed so far is committed to the shared store; rejects if it cannot be. */
  durable(): Promise<unknown>;
  /** The lease epoch each session's rows are recorded under (the recorder's fencing tokens), by session id. */
  fence(id: string): { readonly scope: string; readonly epoch: number } | undefined;
  close(): Promise<void>;
}

export interface FleetSessionOptions extends SessionLeaseOptions {
  /** The per-grant state of the runtime's policies: forgotten for a state taken over, then rebuilt. */
  readonly grantScopes?: GrantScopes;
}

/**
 * Sessions across a fleet: one owner per state key (a lease on the shared store), takeover by replaying
 * the record, and answers held until what led to them is durable (so a failover loses neither budget
 * nor provenance). Every session of a grant, stateless or stateful, is served by the owner of the
 * grant's state; a session of its own (no grant id) by the owner of its own key.
 * @example const fleet = await fleetSessions(store, monitor, () => recorder.flush())
 */
export async function fleetSessions(
  store: PgStore,
  monitor: Monitor,
  durable: () => Promise<unknown>,
  options: FleetSessionOptions = {},
): Promise<FleetSessions> {
  const leases = await pgSessionLeases(store, options);
  const adopters = new Map<FleetSessionKind, Adopter>();
  /** Sessions served here, by state key, and each one's key and epoch. */
  const local = new Map<string, Set<string>>();
  const fences = new Map<string, { scope: string; epoch: number }>();
  /** Takeovers in progress, by state key: concurrent requests of one state wait for one. */
  const owning = new Map<string, Promise<true | ElsewhereOwned>>();

  /** Serve session `id` here as one of `scope`, its rows recorded under the lease's `epoch` (its fence). */
  const track = (scope: string, id: string, handle: SessionHandle | undefined, epoch: number) => {
    let ids = local.get(scope);
    if (!ids) local.set(scope, (ids = new Set()));
    ids.add(id);
    fences.set(id, { scope, epoch });
    void (handle ?? monitor.session(id))?.whenEnded().then(() => {
      ids.delete(id);
      if (ids.size === 0 && local.get(scope) === ids) {
        local.delete(scope);
        leases.drop(scope);
      }
      // Its last rows are on their way to the store: the fence stays until they are committed (or
      // refused by it); kept while the store is away.
      durable().then(
        () => {
          if (fences.get(id)?.scope === scope) fences.delete(id);
        },
        () => undefined,
      );
    });
  };

  /** Another instance serves `scope` now: its sessions go on there, so here they are forgotten (not ended). */
  const letGo = (scope: string) => {
    const ids = local.get(scope);
    local.delete(scope);
    for (const id of ids ?? []) monitor.release(id);
  };
  leases.onLost(letGo);

  const rowsOf = async (scope: string) => {
    try {
      const r = await store.pg.pool.query<{
        id: string;
        kind: FleetSessionKind;
        handle: string | null;
        upstream_sid: string | null;
        status: string | null;
      }>(
        `SELECT f.id, f.kind, f.handle, f.upstream_sid, s.status FROM fleet_sessions f
          LEFT JOIN sessions s ON s.id = f.id WHERE f.scope = $1 ORDER BY f.started_at, f.id`,
        [stored(scope)],
      );
      return r.rows;
    } catch (e) {
      throw pgError(e, store.display);
    }
  };

  /** Rebuild a state taken over from another instance, from the record of every session of it. */
  const rebuild = async (scope: string, epoch: number, identity: Identity | undefined, intent: Intent) => {
    options.grantScopes?.forget(scope);
    for (const row of await rowsOf(scope)) {
      // Held here before another instance took it: what it did since is in the record, not here.
      if (monitor.session(row.id)) monitor.release(row.id);
      const handle = await restoreFromRecord(store, monitor, {
        id: row.id,
        intent,
        identity,
        transport: row.kind === 'stateless' ? 'http-stateless' : 'http',
      });
      const r: FleetSessionRow = {
        id: row.id,
        scope,
        kind: row.kind,
        handle: handleFrom(row.kind, row.handle),
        upstreamSid: row.upstream_sid ?? undefined,
      };
      // Ended in the record: replayed for the state it left behind (provenance), then let go.
      // (A halted one stays, halted: its key must not open a fresh session that escapes the halt.)
      if (row.status?.startsWith('closed')) {
        monitor.release(row.id);
        continue;
      }
      track(scope, row.id, handle, epoch);
      if (!adopters.get(row.kind)?.(r, handle))
        // Its client's connection, or its stdio server, died with its owner: ended, in the record.
        handle.close('its owner instance is gone and it cannot be continued here');
    }
  };

  /** Names in flight: durable() waits for them. */
  const naming = new Set<Promise<void>>();
  const write = async (row: FleetSessionRow): Promise<void> => {
    try {
      await store.pg.pool.query(
        `INSERT INTO fleet_sessions (id, scope, kind, handle, upstream_sid, started_at)
          VALUES ($1, $2, $3, $4, $5, (extract(epoch from clock_timestamp()) * 1000)::bigint)
        ON CONFLICT (id) DO UPDATE SET handle = EXCLUDED.handle, upstream_sid = EXCLUDED.upstream_sid`,
        [row.id, stored(row.scope), row.kind, handleOf(row.kind, row.handle), row.upstreamSid ?? null],
      );
    } catch (e) {
      throw pgError(e, store.display);
    }
  };

  const fleet: FleetSessions = {
    leases,
    scopeOf: (identity, intent, own) => scopeKeyOf(identity, intent) ?? own,
    holds: (scope) => leases.holds(scope),
    own(scope, identity, intent) {
      if (leases.holds(scope)) return Promise.resolve(true);
      const busy = owning.get(scope);
      if (busy) return busy;
      const p = (async (): Promise<true | ElsewhereOwned> => {
        const claim = await leases.claim(scope);
        if (!claim.mine) {
          letGo(scope);
          return claim;
        }
        if (claim.takenOver) await rebuild(scope, claim.epoch, identity, intent);
        return true;
      })().finally(() => owning.delete(scope));
      owning.set(scope, p);
      return p;
    },
    register(row, identity, intent) {
      const p = (async () => {
        // Held (and its epoch known) when the session is tracked: a lease dropped meanwhile is claimed again.
        while (!leases.holds(row.scope) || leases.epoch(row.scope) === undefined) {
          const owner = await fleet.own(row.scope, identity, intent);
          if (owner !== true)
            throw new IntentGuardError(
              'ERR_SESSION_LEASE',
              `the state of this session is served by instance ${owner.owner}`,
            );
        }
        track(row.scope, row.id, undefined, leases.epoch(row.scope)!);
        await write(row);
      })();
      // What durable() waits for too: an answer that names a session goes out once the fleet knows it.
      naming.add(p);
      void p.then(
        () => naming.delete(p),
        () => naming.delete(p),
      );
      return p;
    },
    async find(kind, handle) {
      try {
        const r = await store.pg.pool.query<{ id: string; scope: string; upstream_sid: string | null }>(
          'SELECT id, scope, upstream_sid FROM fleet_sessions WHERE kind = $1 AND handle = $2 ORDER BY started_at DESC LIMIT 1',
          [kind, handleOf(kind, handle)],
        );
        const row = r.rows[0];
        return (
          row && {
            id: row.id,
            scope: JSON.parse(row.scope) as string,
            kind,
            handle,
            upstreamSid: row.upstream_sid ?? undefined,
          }
        );
      } catch (e) {
        throw pgError(e, store.display);
      }
    },
    adopt(kind, adopter) {
      adopters.set(kind, adopter);
    },
    durable: () => (naming.size === 0 ? durable() : Promise.all([durable(), ...naming])),
    fence: (id) => fences.get(id),
    close: () => leases.close(),
  };
  return fleet;
}
