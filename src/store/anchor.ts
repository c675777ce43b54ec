import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import type Database from 'better-sqlite3';

/** The last row of an insertion-ordered chain. */
interface Head {
  readonly rowid: number;
  readonly hash: string;
}

/** A session still being recorded: its chain heads when the anchor was written, and who records it. */
export interface OpenHead {
  readonly pid: number;
  readonly events: number;
  readonly event: string;
  readonly decisions: number;
  readonly decision: string;
  readonly alerts: number;
  readonly alert: string;
}

/**
 * The head anchor: kept beside the key (`<db>.anchor`), outside the database, HMAC'd with the audit
 * key, rewritten inside every write transaction (so writers take turns under SQLite's write lock).
 * A deleted newest row, a cut tail or a removed seal leaves the database behind its anchor.
 */
export interface Anchor {
  v: 1;
  epoch: number;
  /** Heads of the insertion-ordered chains. */
  heads: {
    sessions?: Head;
    approvals?: Head;
    revocations?: Head;
    anchors?: Head;
    /** The console's grant requests (absent in anchors written before they were covered). */
    grantRequests?: Head;
  };
  /** Sessions not sealed yet, by id. */
  open: Record<string, OpenHead>;
  /** Approvals (rowids) written and not decided yet. */
  undecided: number[];
  /** Revocations in force: [jti, sub, expires_at]; enforced even when their row is deleted. */
  revoked: [string | null, string | null, number | null][];
  /** Processes recording into the database. */
  writers: number[];
  /** A problem found with an earlier anchor file, carried forward so it stays visible. */
  note?: string;
}

const anchorPath = (dbPath: string): string => `${dbPath}.anchor`;

const mac = (key: Buffer, body: string) =>
  createHmac('sha256', key).update(`intentguard anchor\u0000${body}`).digest('hex');

const emptyAnchor = (epoch: number): Anchor => ({
  v: 1,
  epoch,
  heads: {},
  open: {},
  undecided: [],
  revoked: [],
  writers: [],
});

export type AnchorRead = { readonly anchor?: Anchor; readonly error?: string };

const cache = new Map<string, { stamp: string; read: AnchorRead }>();

// The inode changes with every rewrite (a new file renamed over the old), the mtime to the nanosecond.
const stamp = (st: BigIntStats): string => `${st.ino}:${st.size}:${st.mtimeNs}`;
const stampOf = (path: string): string => stamp(statSync(path, { bigint: true }));

/**
 * Read and authenticate the anchor file. No file: `{}`. A file that does not authenticate under any
 * of the keys: `{ error }`. Parsed once per version of the file (by inode, size and mtime).
 */
export function readAnchor(dbPath: string, keys: ReadonlyMap<number, Buffer>): AnchorRead {
  const path = anchorPath(dbPath);
  let stamp: string;
  try {
    stamp = stampOf(path);
  } catch {
    cache.delete(path);
    return {};
  }
  const hit = cache.get(path);
  if (hit && hit.stamp === stamp) return hit.read;
  const read = parseAnchor(readFileSync(path, 'utf8'), keys);
  cache.set(path, { stamp, read });
  return read;
}

function parseAnchor(text: string, keys: ReadonlyMap<number, Buffer>): AnchorRead {
  const nl = text.indexOf('\n');
  const body = text.slice(0, nl);
  const tag = text.slice(nl + 1).trim();
  let anchor: Anchor;
  try {
    anchor = JSON.parse(body) as Anchor;
  } catch {
    return { error: 'the head anchor file is not readable (altered or damaged)' };
  }
  const key = keys.get(anchor.epoch);
  if (!key)
    return {
      error: `the head anchor file names key epoch ${anchor.epoch}, which is not beside the database`,
    };
  const want = Buffer.from(mac(key, body));
  if (tag.length !== want.length || !timingSafeEqual(Buffer.from(tag), want))
    return { error: 'the head anchor file does not authenticate (altered, or written without the key)' };
  return { anchor };
}

/** Write the anchor file atomically (owner-only). */
function writeAnchor(dbPath: string, key: Buffer, anchor: Anchor): void {
  const path = anchorPath(dbPath);
  const body = JSON.stringify(anchor);
  const tmp = `${path}.tmp-${process.pid}`;
  // Created owner-only (a umask can only take bits away); stamped before the rename, which keeps inode and mtime.
  const fd = openSync(tmp, 'w', 0o600);
  let written: string;
  try {
    writeSync(fd, `${body}\n${mac(key, body)}\n`);
    written = stamp(fstatSync(fd, { bigint: true }));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  cache.set(path, { stamp: written, read: { anchor } });
}

const CHAINED = ['sessions', 'approvals', 'revocations', 'audit_anchors', 'grant_requests'] as const;
type HeadStatements = readonly Database.Statement[];
/** The heads' statements, prepared once per connection: every write transaction reads them. */
const headStatements = new WeakMap<Database.Database, HeadStatements>();

/** Heads of the insertion-ordered chains, as the database has them now. */
export function currentHeads(db: Database.Database): Anchor['heads'] {
  let statements = headStatements.get(db);
  if (!statements) {
    statements = CHAINED.map((table) =>
      db.prepare(`SELECT rowid, hash FROM ${table} WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1`),
    );
    headStatements.set(db, statements);
  }
  const [s, a, r, x, g] = statements.map((st) => st.get() as Head | undefined);
  const heads: Anchor['heads'] = {};
  if (s) heads.sessions = { rowid: s.rowid, hash: s.hash };
  if (a) heads.approvals = { rowid: a.rowid, hash: a.hash };
  if (r) heads.revocations = { rowid: r.rowid, hash: r.hash };
  if (x) heads.anchors = { rowid: x.rowid, hash: x.hash };
  if (g) heads.grantRequests = { rowid: g.rowid, hash: g.hash };
  return heads;
}

/** Is this process alive (for a writer pid recorded in the anchor)? */
export function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

export interface AnchorStore {
  readonly path: string;
  readonly key: Buffer;
  readonly epoch: number;
  readonly keys: ReadonlyMap<number, Buffer>;
  readonly db: Database.Database;
}

/**
 * Run `body` in an immediate write transaction and bring the head anchor up to date with it: the new
 * anchor is computed inside the transaction (heads from the database, `change` for the rest) and
 * written once the transaction has committed, so the file is never ahead of the database (after a
 * crash between the two it is one commit behind, which `audit verify` accepts as rows written after
 * it). An anchor lock file (`<db>.anchor.lock`) makes writers in other threads and processes take
 * turns, so none loses another's update. An in-memory database has no anchor.
 */
export function anchoredTransaction<T>(
  store: AnchorStore & { readonly busyTimeoutMs?: number },
  body: () => T,
  change: (a: Anchor, result: T) => void = () => {},
): T {
  const { db } = store;
  if (store.path === ':memory:') return db.transaction(body).immediate();
  const release = lockAnchor(store.path, store.busyTimeoutMs ?? 5000);
  try {
    let next: Anchor | undefined;
    const result = db
      .transaction(() => {
        const r = body();
        next = nextAnchor(store, (a) => change(a, r));
        return r;
      })
      .immediate();
    if (next) writeAnchor(store.path, store.key, next);
    return result;
  } finally {
    release();
  }
}

function nextAnchor(store: AnchorStore, change: (a: Anchor) => void): Anchor {
  const read = readAnchor(store.path, store.keys);
  // A new anchor object: `change` replaces entries and lists, never edits them, so copying the open map suffices.
  const a: Anchor = read.anchor
    ? { ...read.anchor, open: { ...read.anchor.open } }
    : emptyAnchor(store.epoch);
  if (read.error) a.note = read.error;
  if (a.epoch > store.epoch)
    throw Object.assign(
      new Error(
        `the audit key was rotated (epoch ${a.epoch}) while this process was using epoch ${store.epoch}; restart it`,
      ),
      { code: 'ERR_STORE' },
    );
  a.epoch = store.epoch;
  change(a);
  a.heads = currentHeads(store.db);
  return a;
}

/**
 * Create the lock file at `path` holding `me`, or return false if it exists. The content is written to
 * a file of its own first and hard-linked into place (link fails if the name exists), so the lock
 * appears with its holder already in it: a writer killed at any point leaves no empty lock behind, at
 * most a stray `.tmp` file, which is removed here.
 */
function tryLock(path: string, me: string): boolean {
  const staged = `${path}.${me.replace(' ', '-')}.tmp`;
  writeFileSync(staged, me, { flag: 'wx', mode: 0o600 });
  try {
    linkSync(staged, path);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
    return false;
  } finally {
    rmSync(staged, { force: true });
  }
}

/**
 * Take the anchor lock (exclusive creation of `<db>.anchor.lock`, holding this process's pid); a lock
 * left by a dead process is taken over. Returns its release. Waits at most `timeoutMs`.
 */
const lockAge = (path: string): number => {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

export function lockAnchor(dbPath: string, timeoutMs: number): () => void {
  const path = `${anchorPath(dbPath)}.lock`;
  const me = `${process.pid} ${randomUUID()}`;
  const until = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (tryLock(path, me)) return () => rmSync(path, { force: true });
    let holder: string;
    try {
      holder = readFileSync(path, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const pid = Number(holder.split(' ')[0]);
    // A commit holds the lock for milliseconds: one held by a dead process, or for over 30 s (a thread
    // terminated mid-commit), is stale. So is an empty or unreadable holder: tryLock links a file whose
    // content is complete, so only a writer killed mid-write by an older build leaves one.
    if (!/^\d+ \S+$/.test(holder) || (pid !== process.pid && !alive(pid)) || lockAge(path) > 30_000) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > until)
      throw Object.assign(
        new Error(`the head anchor of ${dbPath} is locked by ${holder || 'another writer'}`),
        { code: 'SQLITE_BUSY_ANCHOR' },
      );
    Atomics.wait(pause, 0, 0, 1);
  }
}
