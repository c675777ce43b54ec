import { chmodSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { IntentGuardError } from '../errors.js';
import { DEFAULT_DB } from './paths.js';
import { isPostgresUrl, redact } from './location.js';
import { anchoredTransaction } from './anchor.js';
import { loadAuditKeys } from './chain.js';
import { migrate } from './migrations.js';
import { adoptLegacyRows, sealAbandoned } from './seal.js';

export { DEFAULT_DB } from './paths.js';

export interface Store {
  readonly db: Database.Database;
  readonly path: string;
  /** The current audit key, and its epoch (0 until `intentguard audit rotate-key`). */
  readonly key: Buffer;
  readonly epoch: number;
  /** Every audit key by epoch, retired ones included (older rows verify with theirs). */
  readonly keys: ReadonlyMap<number, Buffer>;
  /** Sessions sealed as "ended without seal" when this store was opened (their process had died). */
  readonly sealedAtOpen: readonly string[];
  /** As opened: a recording worker opens its own connection the same way. */
  readonly busyTimeoutMs: number;
  readonly durability: 'normal' | 'full';
  close(): void;
}

/**
 * Open (and migrate) an intentguard database: WAL, `synchronous=NORMAL` (a committed transaction
 * survives the process being killed; `durability: 'full'` also survives power loss), a busy timeout.
 */
export function openStore(
  path = DEFAULT_DB,
  options: {
    readonly?: boolean;
    mustExist?: boolean;
    durability?: 'normal' | 'full';
    busyTimeoutMs?: number;
    clock?: () => number;
  } = {},
): Store {
  if (isPostgresUrl(path))
    throw new IntentGuardError(
      'ERR_STORE_BACKEND',
      `this command reads and writes SQLite stores only; ${redact(path)} is PostgreSQL`,
    );
  let db: Database.Database;
  const created = path !== ':memory:' && !options.readonly && !existsSync(path);
  try {
    // Commands that only act on existing records (read them, prune, decide approvals) must not create
    // an empty database (and its key) at a mistyped path.
    db = new Database(path, {
      readonly: options.readonly ?? false,
      fileMustExist: (options.readonly || options.mustExist) ?? false,
    });
  } catch (e) {
    throw storeError(e, `cannot open ${path}`);
  }
  // The record holds every message in full, secrets included: a new database is readable by its owner
  // only, like its key (SQLite gives the -wal and -shm files the database file's permissions).
  if (created) chmodSync(path, 0o600);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const durability = options.durability ?? 'normal';
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  let from = 0;
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    from = db.pragma('user_version', { simple: true }) as number;
    migrate(db);
  }
  const keys = loadAuditKeys(path, !options.readonly);
  const base = { db, path, ...keys, busyTimeoutMs, durability, close: () => db.close() };
  if (options.readonly) return { ...base, sealedAtOpen: [] };
  try {
    if (from > 0 && from < 2) {
      adoptLegacyRows(db, keys.key);
      // The first head anchor: the chains as adopted, and the revocations in force.
      anchoredTransaction(
        base,
        () =>
          db.prepare('SELECT jti, sub, expires_at FROM revocations ORDER BY rowid').raw().all() as [
            string | null,
            string | null,
            number | null,
          ][],
        (a, revoked) => {
          a.revoked = revoked;
        },
      );
    }
    // A session whose process died is sealed now, by whichever intentguard process opens the database next.
    return { ...base, sealedAtOpen: sealAbandoned(base, (options.clock ?? Date.now)()) };
  } catch (e) {
    db.close();
    throw storeError(e, `cannot open ${path}`);
  }
}

/** Turn a SQLite failure into a clear, coded error. */
export function storeError(e: unknown, context: string): IntentGuardError {
  const code = (e as { code?: string })?.code ?? '';
  const message = (e as Error)?.message ?? String(e);
  if (code.startsWith('SQLITE_FULL'))
    return new IntentGuardError('ERR_STORE_FULL', `${context}: disk full (${message})`, { sqlite: code });
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return new IntentGuardError('ERR_STORE_LOCKED', `${context}: database is locked (${message})`, {
      sqlite: code,
    });
  return new IntentGuardError('ERR_STORE', `${context}: ${message}`, { sqlite: code });
}
