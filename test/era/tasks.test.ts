// Task ownership (issue 15, the Tasks extension and 2025-11-25 tasks): a task id is a bearer handle, so
// tasks/get, tasks/result, tasks/cancel (and the extension's tasks/update) are refused for a task that
// another session or agent created through intentguard, or one intentguard never saw created. Against
// the real server-everything (its task tool simulate-research-query) behind intentguard http.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateTaskResultSchema,
  GetTaskResultSchema,
  ListTasksResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { RPC_CODES } from '../../src/errors.js';
import { everythingHttp } from '../helpers/everything-http.js';
import { sharedTasksServer } from './fixtures/shared-tasks.js';
import { httpStack, intentDir } from './fixtures/stack.js';

const { dir, remove } = intentDir('ig-era-tasks-', "purpose: research a topic\ntools: '*'\n");
after(remove);

const client = async (url: string) => {
  const c = new Client({ name: 'tasks-agent', version: '1' }, { capabilities: { tasks: {} } });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
};

const notOwned = (e: { code?: number; data?: { code?: string } }) =>
  e.code === RPC_CODES.DENIED && e.data?.code === 'ERR_TASK_NOT_OWNED';

describe('era: task ownership', () => {
  it("a session polls its own task; another session's tasks/get, tasks/cancel, tasks/update and tasks/result of it, and an unknown task id, are refused", async () => {
    const everything = await everythingHttp();
    const proxy = await httpStack({ url: everything.url, close: () => everything.stop() }, dir);
    try {
      const a = await client(proxy.url);
      const created = await a.request(
        {
          method: 'tools/call',
          params: { name: 'simulate-research-query', arguments: { topic: 'owls' }, task: { ttl: 60_000 } },
        },
        CreateTaskResultSchema,
      );
      const taskId = created.task.taskId;
      const mine = await a.request({ method: 'tasks/get', params: { taskId } }, GetTaskResultSchema);
      assert.equal(mine.taskId, taskId, 'the creating session polls its task');

      const b = await client(proxy.url);
      await assert.rejects(
        b.request({ method: 'tasks/get', params: { taskId } }, GetTaskResultSchema),
        notOwned,
      );
      await assert.rejects(
        b.request({ method: 'tasks/cancel', params: { taskId } }, GetTaskResultSchema),
        notOwned,
      );
      // The extension's tasks/update, and 2025-11-25's tasks/result: the same principal check.
      for (const method of ['tasks/update', 'tasks/result'])
        await assert.rejects(
          b.request({ method, params: { taskId, inputResponses: {} } } as never, GetTaskResultSchema),
          notOwned,
          method,
        );
      await assert.rejects(
        a.request({ method: 'tasks/get', params: { taskId: 'no-such-task' } }, GetTaskResultSchema),
        notOwned,
        'a task id intentguard never saw created is refused (fail closed)',
      );
      await a.close();
      await b.close();
    } finally {
      await proxy.close();
    }
  });

  it("tasks/list shows a session only its own tasks: another session's are removed from the result", async () => {
    const upstream = await sharedTasksServer();
    const proxy = await httpStack(upstream, dir);
    try {
      const create = async (c: Client, name: string) =>
        (
          await c.request(
            {
              method: 'tools/call',
              params: { name: 'slow_job', arguments: { name }, task: { ttl: 60_000 } },
            },
            CreateTaskResultSchema,
          )
        ).task.taskId;
      const list = async (c: Client) =>
        (await c.request({ method: 'tasks/list', params: {} }, ListTasksResultSchema)).tasks.map(
          (t) => t.taskId,
        );
      const a = await client(proxy.url);
      const b = await client(proxy.url);
      const c = await client(proxy.url);
      const mine = await create(a, 'one');
      const theirs = await create(b, 'two');
      // Upstream's one store lists both tasks to everyone; each session sees its own.
      assert.deepEqual(await list(a), [mine]);
      assert.deepEqual(await list(b), [theirs]);
      assert.deepEqual(await list(c), [], 'a session that created nothing lists nothing');
      for (const x of [a, b, c]) await x.close();
    } finally {
      await proxy.close();
    }
  });
});
