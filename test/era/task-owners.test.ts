// Task owners behind the store interface (issue 15): the same suite against the SQLite store and a real
// PostgreSQL (test/helpers/postgres.ts). Two era gates on two connections of one database stand for two
// instances: a task created through one is its creator's on the other — another grant's tasks/get is
// refused there, its tasks/list does not show it — and a store that cannot answer refuses.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMonitor, parseIntent } from '../../src/index.js';
import { META } from '../../src/era/keys.js';
import { pgTaskOwners } from '../../src/fleet/tasks.js';
import { createEraGate, type EraGate } from '../../src/mrtr/gate.js';
import { deriveStateKey } from '../../src/mrtr/state.js';
import { observeThrough } from '../../src/mrtr/tap-hook.js';
import { sqliteTaskOwners, type TaskOwners } from '../../src/mrtr/tasks.js';
import { openStore } from '../../src/store/db.js';
import { openPgStore } from '../../src/store/pg/store.js';
import { startPostgres, type TempPostgres } from '../helpers/postgres.js';

/** One backend: `open()` gives another instance's connection to the same database. */
interface Backend {
  readonly name: string;
  open(): Promise<{ owners: TaskOwners; close(): Promise<void> | void }>;
}

const dir = mkdtempSync(join(tmpdir(), 'ig-task-owners-'));
let pg: TempPostgres | undefined;
let pgUrl = '';
before(async () => {
  pg = await startPostgres();
  pgUrl = pg.createDatabase('owners');
});
after(() => {
  pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sqliteFile = join(dir, 'owners.db');
const backends: Backend[] = [
  {
    name: 'SQLite',
    open: async () => {
      const store = openStore(sqliteFile);
      return { owners: sqliteTaskOwners(store.db), close: () => store.close() };
    },
  },
  {
    name: 'PostgreSQL',
    open: async () => {
      const store = await openPgStore(pgUrl, { keyFile: join(dir, 'pg.key') });
      return { owners: await pgTaskOwners(store), close: () => store.close() };
    },
  },
];

const key = deriveStateKey(Buffer.alloc(32, 3));
const intent = parseIntent({ purpose: 'research', tools: '*' });
let seq = 0;

/** A session of `sub` on `gate`, and a way to send it one message each way. */
function agent(gate: EraGate, sub: string) {
  const monitor = createMonitor({ approver: gate.approver() });
  const session = monitor.open({ intent, identity: { sub, jti: `jti-${sub}-${seq++}` } });
  return {
    // 2026-07-28 requests: no initialize, the version and capabilities in every request's _meta.
    send: (method: string, params: Record<string, unknown>, id = `r${seq++}`) =>
      observeThrough(gate, session, 'c2s', {
        jsonrpc: '2.0',
        id,
        method,
        params: {
          ...params,
          _meta: { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} },
        },
      }),
    answer: (id: string, result: Record<string, unknown>) =>
      observeThrough(gate, session, 's2c', { jsonrpc: '2.0', id, result }),
    close: () => monitor.close(),
  };
}

const refusedCode = (o: { answer?: unknown }) =>
  (o.answer as { error?: { data?: { code?: string } } } | undefined)?.error?.data?.code;

for (const backend of backends)
  describe(`task owners on ${backend.name}`, () => {
    it('a task created through one instance is refused to another grant on another instance', async () => {
      const one = await backend.open();
      const two = await backend.open();
      const gateOne = createEraGate({ key, tasks: one.owners });
      const gateTwo = createEraGate({ key, tasks: two.owners });
      const creator = agent(gateOne, 'agent-a');
      const sameAgent = agent(gateTwo, 'agent-a');
      const other = agent(gateTwo, 'agent-b');
      try {
        const taskId = `task-${backend.name}-1`;
        const call = await creator.send(
          'tools/call',
          { name: 'job', arguments: {}, task: { ttl: 60_000 } },
          'c1',
        );
        assert.ok(call.forward, JSON.stringify(call));
        const created = await creator.answer('c1', {
          task: { taskId, status: 'working', ttl: 60_000, createdAt: new Date().toISOString() },
        });
        assert.ok(created.forward, 'the task reaches its creator');

        const mine = await sameAgent.send('tasks/get', { taskId });
        assert.ok(mine.forward, 'the same agent polls it through the other instance');
        const theirs = await other.send('tasks/get', { taskId });
        assert.equal(theirs.forward, undefined);
        assert.equal(refusedCode(theirs), 'ERR_TASK_NOT_OWNED');
        assert.equal(refusedCode(await other.send('tasks/cancel', { taskId })), 'ERR_TASK_NOT_OWNED');
        assert.equal(
          refusedCode(await sameAgent.send('tasks/get', { taskId: 'never-created' })),
          'ERR_TASK_NOT_OWNED',
        );

        // The other grant's listing on the other instance does not hand out the id.
        await other.send('tasks/list', {}, 'l1');
        const listed = await other.answer('l1', { tasks: [{ taskId, status: 'working' }] });
        assert.deepEqual((listed.forward as { result: { tasks: unknown[] } }).result.tasks, []);
        await sameAgent.send('tasks/list', {}, 'l2');
        const own = await sameAgent.answer('l2', { tasks: [{ taskId, status: 'working' }] });
        assert.deepEqual((own.forward as { result: { tasks: unknown[] } }).result.tasks, [
          { taskId, status: 'working' },
        ]);
      } finally {
        for (const a of [creator, sameAgent, other]) a.close();
        await one.close();
        await two.close();
      }
    });

    it('the first claim wins across instances', async () => {
      const one = await backend.open();
      const two = await backend.open();
      try {
        const now = Date.now();
        await one.owners.claim('shared-id', 'sub:first', now + 60_000, now);
        await two.owners.claim('shared-id', 'sub:second', now + 60_000, now);
        assert.equal(await two.owners.ownerOf('shared-id', now), 'sub:first');
        assert.equal(await one.owners.ownerOf('shared-id', now), 'sub:first');
        assert.equal(await one.owners.ownerOf('shared-id', now + 60_000), undefined, 'expired');
      } finally {
        await one.close();
        await two.close();
      }
    });

    it('a store that cannot answer refuses the task method (fail closed)', async () => {
      const one = await backend.open();
      const two = await backend.open();
      const gateOne = createEraGate({ key, tasks: one.owners });
      const gateTwo = createEraGate({ key, tasks: two.owners });
      const creator = agent(gateOne, 'agent-c');
      const later = agent(gateTwo, 'agent-c');
      try {
        const taskId = `task-${backend.name}-2`;
        await creator.send('tools/call', { name: 'job', arguments: {} }, 'c2');
        await creator.answer('c2', { task: { taskId, status: 'working', ttl: 60_000 } });
        await two.close();
        assert.equal(refusedCode(await later.send('tasks/get', { taskId })), 'ERR_TASK_NOT_OWNED');
      } finally {
        creator.close();
        later.close();
        await one.close();
      }
    });
  });
