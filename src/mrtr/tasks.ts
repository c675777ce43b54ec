import type Database from 'better-sqlite3';

/**
 * Who created each task (the Tasks extension, docs/extensions/tasks/, and the 2025-11-25 core tasks):
 * a task id is a bearer handle — whoever presents it to `tasks/get`, `tasks/update`, `tasks/cancel` or
 * `tasks/result` reads its result or steers it — so intentguard remembers the owner of every task a
 * server created through it and refuses those methods for a task id another owner created, or one it
 * never saw created (fail closed).
 */
export interface TaskOwners {
  /**
   * Remember `owner` as the creator of `taskId` until `expiresAt` (ms). The first owner wins. A store
   * over the network (a fleet's PostgreSQL) answers with a promise, settled once the claim is committed
   * (the task id goes to its client only then); a rejection withholds the result (fail closed).
   */
  claim(taskId: string, owner: string, expiresAt: number, now: number): void | Promise<void>;
  /** The owner of a task still remembered, or undefined (a rejected promise counts as undefined: refused). */
  ownerOf(taskId: string, now: number): string | undefined | Promise<string | undefined>;
}

/** Most task ids one in-memory table keeps; past it the oldest expiring go first. */
const MAX_TASKS = 65_536;

/** An in-process table (tests, and a proxy without a store). */
export function memoryTaskOwners(): TaskOwners {
  const owners = new Map<string, { owner: string; exp: number }>();
  return {
    claim(taskId, owner, expiresAt, now) {
      if (owners.has(taskId)) return;
      if (owners.size >= MAX_TASKS) {
        for (const [id, o] of owners) if (o.exp <= now) owners.delete(id);
        if (owners.size >= MAX_TASKS) owners.delete(owners.keys().next().value!);
      }
      owners.set(taskId, { owner, exp: expiresAt });
    },
    ownerOf(taskId, now) {
      const o = owners.get(taskId);
      return o && o.exp > now ? o.owner : undefined;
    },
  };
}

/**
 * The table in the SQLite store (`mrtr_task_owners`, created here when absent), so a task created
 * through one process is polled through another on the same database (and survives a restart). The
 * first claim wins: `INSERT OR IGNORE` on the primary key.
 */
export function sqliteTaskOwners(db: Database.Database): TaskOwners {
  db.exec(
    'CREATE TABLE IF NOT EXISTS mrtr_task_owners (task_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)',
  );
  const insert = db.prepare(
    'INSERT OR IGNORE INTO mrtr_task_owners (task_id, owner, expires_at) VALUES (?, ?, ?)',
  );
  const select = db.prepare<[string, number], { owner: string }>(
    'SELECT owner FROM mrtr_task_owners WHERE task_id = ? AND expires_at > ?',
  );
  const prune = db.prepare('DELETE FROM mrtr_task_owners WHERE expires_at <= ?');
  let claimed = 0;
  return {
    claim(taskId, owner, expiresAt, now) {
      if (++claimed % 256 === 0) prune.run(now);
      insert.run(taskId, owner, expiresAt);
    },
    ownerOf(taskId, now) {
      return select.get(taskId, now)?.owner;
    },
  };
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Methods that name an existing task by `params.taskId` (extension and 2025-11-25 core). */
export const TASK_METHODS: ReadonlySet<string> = new Set([
  'tasks/get',
  'tasks/update',
  'tasks/cancel',
  'tasks/result',
]);

/** How long a task id is remembered when the server names no TTL (or an unlimited one): a day. */
const DEFAULT_TASK_TTL_MS = 86_400_000;

/**
 * The task a result creates, if it creates one: the extension's `CreateTaskResult`
 * (`resultType: "task"`, the Task fields inline) or 2025-11-25's `{ task: Task }`. Its TTL bounds how
 * long intentguard remembers it (at least a minute, at most a week).
 */
export function createdTask(result: unknown): { taskId: string; ttlMs: number } | undefined {
  if (!isPlain(result)) return undefined;
  const task =
    result.resultType === 'task'
      ? result
      : isPlain(result.task) && !('content' in result)
        ? result.task
        : undefined;
  if (!task || typeof task.taskId !== 'string' || task.taskId.length === 0) return undefined;
  const ttl =
    typeof task.ttlMs === 'number' ? task.ttlMs : typeof task.ttl === 'number' ? task.ttl : undefined;
  const ttlMs = ttl === undefined || !Number.isFinite(ttl) ? DEFAULT_TASK_TTL_MS : ttl;
  return { taskId: task.taskId, ttlMs: Math.min(Math.max(ttlMs, 60_000), 7 * DEFAULT_TASK_TTL_MS) };
}

/**
 * A `tasks/list` result with only `owner`'s tasks in it: the tasks of other agents or sessions, and any
 * intentguard never saw created (fail closed), are removed — a listing must not hand out the bearer
 * handles {@link TASK_METHODS} refuse. The cursor and other fields are kept; the same object is
 * returned when nothing is removed.
 */
export function ownTasksOnly(
  result: Record<string, unknown>,
  owner: string,
  owners: TaskOwners,
  now: number,
): Record<string, unknown> | Promise<Record<string, unknown>> {
  const tasks = result.tasks;
  if (!Array.isArray(tasks)) return result;
  const whose = tasks.map((t) =>
    isPlain(t) && typeof t.taskId === 'string' ? owners.ownerOf(t.taskId, now) : undefined,
  );
  const keep = (found: readonly (string | undefined)[]) => {
    const kept = tasks.filter((_, i) => found[i] === owner);
    return kept.length === tasks.length ? result : { ...result, tasks: kept };
  };
  if (!whose.some((w) => w instanceof Promise)) return keep(whose as (string | undefined)[]);
  // A store that cannot answer for a task: the task is removed (fail closed).
  return Promise.all(whose.map((w) => Promise.resolve(w).catch(() => undefined))).then(keep);
}
