import type { Monitor } from '../monitor/create.js';
import type { AuditReport } from './audit.js';
import type { AuditKeys } from './chain.js';
import type { Store } from './db.js';
import type { Recorder, RecorderOptions } from './recorder.js';
import type { SnapshotFilter } from './pg/snapshot.js';
import type { PgStore } from './pg/store.js';

/** What the readers get: a SQLite store to read (the file itself, or a private copy of PostgreSQL rows). */
interface ReadView {
  readonly store: Store;
  /** The path readers on worker threads open (`replay --jobs`). */
  readonly path: string;
  close(): void;
}

/**
 * One store, either backend: the embedded SQLite file (the default) or a PostgreSQL database a fleet
 * shares. Every operation is asynchronous (PostgreSQL is); the SQLite backend answers at once. Both
 * chain and seal rows the same way with the same HMAC keys, so a record verifies the same on either.
 */
export interface StoreBackend extends AuditKeys {
  readonly kind: 'sqlite' | 'postgres';
  /** Where, for messages: the file path, or the URL without its password. */
  readonly location: string;
  /** The SQLite store (kind `sqlite`). */
  readonly sqlite?: Store;
  /** The PostgreSQL store: its pool and keys (kind `postgres`), for the fleet's tables. */
  readonly postgres?: PgStore;
  /** Record a monitor's sessions here (batched, off the traffic path; unhealthy while writes fail). */
  record(monitor: Monitor, options?: RecorderOptions): Recorder;
  /** The records chosen, as a SQLite store the readers (`sessions`, `show`, `export`, `replay`) take. */
  read(filter?: SnapshotFilter | 'all'): Promise<ReadView>;
  /** `audit verify`: chains and seals (and, for SQLite, the head anchor). */
  verify(): Promise<AuditReport>;
  /** Delete ended sessions started before `cutoff`; the sessions chain is re-anchored. */
  prune(cutoff: number, now: number): Promise<number>;
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Commands that only read: SQLite opens read-only; PostgreSQL creates no key. */
  readonly readonly?: boolean;
  /** The file must exist already (SQLite). */
  readonly mustExist?: boolean;
  /** PostgreSQL: the audit key file (default INTENTGUARD_AUDIT_KEY, else ./intentguard-pg.key). */
  readonly keyFile?: string;
  readonly clock?: () => number;
}
