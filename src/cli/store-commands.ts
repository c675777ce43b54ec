import { closeSync, createWriteStream, openSync, readSync } from 'node:fs';
import { createGzip } from 'node:zlib';
import { IntentGuardError } from '../errors.js';
import { parseDuration } from '../lib/duration.js';
import { createMonitor } from '../monitor/create.js';
import type { AnyPolicy } from '../model/policy.js';
import { ACTION_RANK } from '../model/policy.js';
import { exportedEvents, readBundles } from '../store/bundle.js';
import { createReplayClock, replayBundle } from '../replay/replay.js';
import type { AuditProblem } from '../store/audit.js';
import { rotateAuditKey } from '../store/rotate.js';
import { openStore } from '../store/db.js';
import { openBackend } from '../store/backend.js';
import { isPostgresUrl } from '../store/location.js';
import { chooseStore } from './store-flag.js';
import { listSessions, sessionBundles, sessionTimeline, type SessionRow } from '../store/queries.js';
import type { ReplayJob } from '../replay/jobs.js';
import { createReplayPool, replayInOrder, resolveJobs } from '../replay/pool.js';
import { actionLabel, brief, printable } from './format.js';
import { progress } from './progress.js';
import { resultPrinter } from './replay-command.js';
import type { Visibility } from '../visibility/visibility.js';

type Out = NodeJS.WritableStream;

/** A store opened to read, and the records chosen (for PostgreSQL, a private local copy of them). */
async function openView(location: string, filter: { session?: string | undefined; since?: number }) {
  const backend = await openBackend(location, { readonly: true });
  try {
    const view = await backend.read({
      ...(filter.session !== undefined && { session: filter.session }),
      ...(filter.since !== undefined && { since: filter.since }),
    });
    return { backend, view };
  } catch (e) {
    await backend.close();
    throw e;
  }
}

/** `audit verify [STORE] [--store STORE]`: the positional store, or the flag's (one of them, or both the same). */
export function storeArgument(positional: string | undefined, opts: { store?: string }): string {
  return chooseStore({ store: opts.store, db: positional })!;
}

/** Is this a store (a SQLite database or a PostgreSQL URL) rather than a bundle file? */
export function isSqliteFile(path: string): boolean {
  if (isPostgresUrl(path)) return true;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(16);
    readSync(fd, head, 0, 16, 0);
    return head.toString('latin1') === 'SQLite format 3\u0000';
  } finally {
    closeSync(fd);
  }
}

/** `--since`: an ISO time, or a duration ago (`24h`, `7d`). */
export function parseSince(text: string | undefined, now = Date.now()): number {
  if (!text) return 0;
  if (/^\d+(ms|s|m|h|d)/.test(text)) return now - parseDuration(text);
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new IntentGuardError(
      'ERR_DURATION',
      `--since takes an ISO time or a duration such as 24h, got "${text}"`,
    );
  return t;
}

const iso = (t: number | null) =>
  t === null ? '' : new Date(t).toISOString().replace('T', ' ').slice(0, 19);

function sessionLine(r: SessionRow, out: Out): string {
  const outcome = (r.outcome ?? (r.status === 'open' ? 'live' : '')) as string;
  // A session only monitored delivered every call: its outcome is what would have happened.
  const wouldOnly =
    (outcome === 'deny' || outcome === 'reauthorize' || outcome === 'halt') && r.enforced === 0;
  const label = wouldOnly
    ? `would-${outcome}`.padEnd(11)
    : outcome in ACTION_RANK
      ? actionLabel(outcome as keyof typeof ACTION_RANK, out)
      : outcome.padEnd(11);
  return `${printable(r.id).padEnd(42)} ${iso(r.started_at)}  ${printable(r.sub ?? 'unverified').padEnd(22)} calls=${String(r.calls ?? r.live_calls).padEnd(4)} ${label} drift=${(r.drift ?? 0).toFixed(2)}  ${brief(r.purpose, 60)}`;
}

/** `intentguard sessions [--live]`. */
export async function sessionsCommand(
  opts: { db: string; limit: number; json?: boolean; live?: boolean },
  out: Out = process.stdout,
): Promise<number> {
  const backend = await openBackend(opts.db, { readonly: true });
  try {
    const render = async () => {
      const view = await backend.read({ limit: opts.limit });
      let rows: SessionRow[];
      try {
        rows = listSessions(view.store, { limit: opts.limit });
      } finally {
        view.close();
      }
      if (opts.json) return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
      return `${rows.length} sessions (newest first) in ${backend.location} — drift: the share of a session's calls a decision stopped (0 none, 1 all)\n${rows.map((r) => sessionLine(r, out)).join('\n')}\n`;
    };
    if (!opts.live) {
      out.write(await render());
      return 0;
    }
    const tty = (out as NodeJS.WriteStream).isTTY;
    for (;;) {
      out.write(`${tty ? '\x1b[2J\x1b[H' : ''}${await render()}${tty ? '' : '\n'}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    if (!opts.live) await backend.close();
  }
}

/** `intentguard show SESSION`: the timeline of calls with their decisions and reasons. */
export async function showCommand(
  id: string,
  opts: { db: string; json?: boolean },
  out: Out = process.stdout,
): Promise<number> {
  const { backend, view } = await openView(opts.db, { session: id });
  const store = view.store;
  try {
    const t = sessionTimeline(store, id);
    if (!t) throw new IntentGuardError('ERR_STORE', `no session ${id} in ${backend.location}`);
    if (opts.json) {
      out.write(`${JSON.stringify(t)}\n`);
      return 0;
    }
    const s = t.session;
    out.write(
      `session ${printable(s.id)}\n  identity ${printable(s.sub ?? 'unverified')}${s.jti ? ` (grant ${printable(s.jti)})` : ''}\n  purpose  ${printable(s.purpose)}\n  started  ${iso(s.started_at as number)}  ended ${iso(s.ended_at as number | null) || '(live)'}  outcome ${s.outcome ?? '-'}\n\n`,
    );
    for (const e of t.entries) {
      if (e.kind === 'notification' && !e.findings.length) continue;
      const what = e.tool
        ? `${e.kind === 'request' ? 'call' : e.kind === 'response' ? 'result' : e.kind} ${printable(e.tool)}${e.kind === 'request' ? ` ${brief((e.raw as { params?: { arguments?: unknown } }).params?.arguments, 70)}` : ''}`
        : `${e.kind} ${printable(e.method ?? '')}`;
      // Monitor mode delivered the call: say what would have happened, and what did.
      const action =
        !e.action || e.action === 'allow'
          ? ''
          : e.enforced === false && e.action !== 'alert'
            ? ` would-${e.action} (monitor mode: delivered)`
            : ` ${actionLabel(e.action as keyof typeof ACTION_RANK, out)}`;
      out.write(
        `${String(e.seq).padStart(5)} ${iso(e.time).slice(11)} ${e.dir} ${e.call !== null ? `#${e.call}`.padEnd(5) : '     '} ${what}${action}\n`,
      );
      for (const f of e.findings)
        out.write(`        ${printable(f.rule)} (${printable(f.action)}): ${printable(f.reason)}\n`);
    }
    return 0;
  } finally {
    view.close();
    await backend.close();
  }
}

/**
 * `intentguard audit verify [DB] [--json]`: exit 0 when everything verifies, 1 when a row was
 * tampered with (the first bad row of each table is named, with the reason), 2 when the only findings
 * are sessions that ended without their seal (a crash or `kill -9`).
 */
export async function auditVerifyCommand(
  db: string,
  opts: { json?: boolean } = {},
  out: Out = process.stdout,
): Promise<number> {
  const backend = await openBackend(db, { readonly: true });
  try {
    const r = await backend.verify();
    db = backend.location;
    const code = r.problems.length > 0 ? 1 : r.unsealed.length > 0 ? 2 : 0;
    if (opts.json) {
      const { problem: _first, ...report } = r;
      out.write(`${JSON.stringify({ db, exit: code, ...report })}\n`);
      return code;
    }
    const c = r.checked;
    const counts = `${c.sessions} sessions, ${c.events} events, ${c.decisions} decisions, ${c.anchors} anchors, ${c.alerts} alerts, ${c.approvals} approvals, ${c.grantRequests} grant requests, ${c.revocations} revocations`;
    const line = (p: AuditProblem) =>
      `${p.table} row ${p.rowid}${p.session ? ` (session ${printable(p.session)}${p.seq !== undefined ? ` seq ${p.seq}` : ''})` : ''}: ${p.kind}: ${printable(p.detail)}\n`;
    // The first bad row of each table; the first on the `audit FAILED` line.
    r.problems.forEach((p, i) => out.write(`${i === 0 ? 'audit FAILED: ' : '              '}${line(p)}`));
    r.unsealed.forEach((p, i) => out.write(`${i === 0 ? 'unsealed:     ' : '              '}${line(p)}`));
    out.write(
      code === 0
        ? `audit ok: ${counts} verified in ${db}${r.live.length ? ` (${r.live.length} live)` : ''}\n`
        : `checked: ${counts}\n`,
    );
    return code;
  } finally {
    await backend.close();
  }
}

/** `intentguard audit rotate-key [STORE]`: a new audit key, with a chained hand-over record (either backend). */
export async function auditRotateKeyCommand(
  db: string,
  out: Out = process.stdout,
  options: { keyFile?: string } = {},
): Promise<number> {
  if (isPostgresUrl(db)) {
    const [{ openPgStore }, { rotatePgKey }] = await Promise.all([
      import('../store/pg/store.js'),
      import('../store/pg/rotate.js'),
    ]);
    // Read only: the key file must exist (a rotation never creates the first key).
    const store = await openPgStore(db, {
      readonly: true,
      max: 1,
      ...(options.keyFile && { keyFile: options.keyFile }),
    });
    try {
      const r = await rotatePgKey(store, Date.now());
      out.write(
        `audit key rotated in ${store.display}: epoch ${r.epoch} (fingerprint ${r.fingerprint}); the previous key is kept as ${store.keyFile}.${r.epoch - 1} — copy both files to every instance before starting it again\n`,
      );
    } finally {
      await store.close();
    }
    return 0;
  }
  const store = openStore(db, { mustExist: true });
  const r = rotateAuditKey(store, Date.now());
  out.write(
    `audit key rotated in ${db}: epoch ${r.epoch} (fingerprint ${r.fingerprint}); the previous key is kept as ${db}.key.${r.epoch - 1}\n`,
  );
  return 0;
}

/** `intentguard prune --older-than 30d`. */
export async function pruneCommand(
  opts: { db: string; olderThan: string },
  out: Out = process.stdout,
): Promise<number> {
  const backend = await openBackend(opts.db, { mustExist: true });
  try {
    const now = Date.now();
    const n = await backend.prune(now - parseDuration(opts.olderThan), now);
    out.write(`pruned ${n} ended sessions older than ${opts.olderThan} from ${backend.location}\n`);
    return 0;
  } finally {
    await backend.close();
  }
}

/** `intentguard export`: recorded sessions as bundles (gzipped when the file name ends in .gz). */
export async function exportCommand(
  opts: { db: string; session?: string; since?: string; out?: string; progress?: boolean },
  stdout: Out = process.stdout,
): Promise<number> {
  const since = parseSince(opts.since);
  const { backend, view } = await openView(opts.db, { session: opts.session, since });
  const store = view.store;
  const bar = progress(undefined, 'exporting', { force: Boolean(opts.progress) });
  let target: NodeJS.WritableStream = stdout;
  let file: NodeJS.WritableStream | undefined;
  if (opts.out) {
    file = createWriteStream(opts.out);
    if (opts.out.endsWith('.gz')) {
      const gz = createGzip();
      gz.pipe(file);
      target = gz;
    } else target = file;
  }
  let n = 0;
  try {
    for (const b of sessionBundles(store, {
      ...(opts.session && { session: opts.session }),
      since,
    })) {
      const { recorded: _r, ...bundle } = b;
      // The documented bundle format: {dir, msg, t} per event (the recorded size is internal).
      target.write(`${JSON.stringify({ ...bundle, events: exportedEvents(bundle) })}\n`);
      n++;
      bar.tick();
    }
  } finally {
    bar.done();
    view.close();
    await backend.close();
  }
  if (file)
    await new Promise<void>((resolve) => {
      file!.on('finish', () => resolve());
      target.end();
    });
  if (opts.out) stdout.write(`exported ${n} sessions to ${opts.out}\n`);
  return 0;
}

/** `intentguard import FILE`: run bundles through the monitor and record them. */
export async function importCommand(
  file: string,
  opts: { db: string; policies: AnyPolicy[]; progress?: boolean },
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  // Either backend: the bundles' sessions are recorded (chained and sealed) as a proxy records them.
  const backend = await openBackend(opts.db);
  const bar = progress(undefined, 'importing', { force: Boolean(opts.progress) });
  const clock = createReplayClock();
  const monitor = createMonitor({ policy: opts.policies, clock: clock.now });
  const recorder = backend.record(monitor);
  let n = 0,
    bad = 0;
  try {
    for await (const item of readBundles(file)) {
      bar.tick();
      if ('error' in item) {
        bad++;
        err.write(`${file}:${item.line}: ${item.error.code}: ${item.error.message}\n`);
        continue;
      }
      clock.set(Date.now());
      await replayBundle(monitor, item, { clock });
      n++;
    }
    await recorder.close();
  } finally {
    bar.done();
    monitor.close();
    await backend.close();
  }
  out.write(`imported ${n} sessions into ${backend.location}${bad ? `; ${bad} malformed lines` : ''}\n`);
  return bad > 0 ? 1 : 0;
}

/**
 * `intentguard replay DB --diff`: re-evaluate recorded sessions with the current rules and report
 * every event whose decision would change, and why. Sessions replay on `jobs` worker threads.
 */
export async function replayDbCommand(
  db: string,
  opts: {
    session?: string;
    since?: string;
    json?: boolean;
    diff?: boolean;
    rules: readonly string[];
    pack: boolean;
    visibility?: Visibility;
    jobs?: number | 'auto';
  },
  out: Out = process.stdout,
): Promise<number> {
  const since = parseSince(opts.since);
  const { backend, view } = await openView(db, { session: opts.session, since });
  const store = view.store;
  const shown = backend.location;
  // A PostgreSQL store's rows are read from the copy (its own file, which the replay workers open).
  db = view.path;
  // In order of recording; each job names its session, and the replayer (on this thread or a worker)
  // reads it through its own read-only connection.
  const ids = store.db
    .prepare('SELECT id FROM sessions WHERE (? IS NULL OR id = ?) AND started_at >= ? ORDER BY rowid')
    .pluck()
    .all(opts.session ?? null, opts.session ?? null, since) as string[];
  if (opts.session !== undefined && ids.length === 0) {
    view.close();
    await backend.close();
    throw new IntentGuardError(
      'ERR_SESSION_NOT_FOUND',
      `no session ${opts.session} in ${shown}${opts.since ? ` started since ${opts.since}` : ''} (intentguard sessions --store ${shown} lists them)`,
    );
  }
  const bar = progress((process.stderr as NodeJS.WriteStream).isTTY ? ids.length : undefined, 'replaying');
  const pool = createReplayPool({
    jobs: resolveJobs(opts.jobs, ids.length),
    rules: opts.rules,
    pack: opts.pack,
    ...(opts.visibility && { visibility: opts.visibility }),
  });
  const diff = Boolean(opts.diff);
  const printer = resultPrinter(out, Boolean(opts.json));
  let changed = 0,
    sessions = 0;
  try {
    await replayInOrder(
      pool,
      ids.map((session): ReplayJob => ({ kind: 'stored', db, session, diff })),
      (o) => {
        bar.tick();
        if (o.kind === 'error') throw new Error(`replay failed: ${o.code}: ${o.message}`);
        sessions++;
        if (!diff) {
          printer.print(o.result);
          return;
        }
        for (const line of o.diff ?? []) {
          changed++;
          const { method, ...shown } = line;
          out.write(
            opts.json
              ? `${JSON.stringify(shown)}\n`
              : `${line.session} ${line.call === null ? '' : `call #${line.call} `}${line.tool ?? method ?? ''}: ${line.before} → ${line.after}${line.rules.length ? ` [${line.rules.join(', ')}]` : ''} ${line.reason}\n`,
          );
        }
      },
    );
  } finally {
    bar.done();
    await pool.close();
    view.close();
    await backend.close();
  }
  if (!diff) printer.finish();
  else if (!opts.json) out.write(`\n${sessions} sessions replayed; ${changed} decisions would change\n`);
  return 0;
}
