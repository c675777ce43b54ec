// Console: list view server time with 100 and 100,000 recorded sessions (target < 300 ms; the alerts
// feed with as many alerts), and the
// first live update after a write by another connection (target < 1 s). `npm run bench -- console`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pgConsoleData } from '../src/console/pg-data.js';
import { startConsole } from '../src/console/server.js';
import { openStore } from '../src/store/db.js';
import { openPgStore } from '../src/store/pg/store.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { fmt, percentile, printTable } from './lib.js';

const TOKEN = 'bench-console-token-0123456789';

/** Seed `n` sessions with two events each straight into the tables (rows need not verify: only reads are measured). */
function seed(path: string, n: number): void {
  const db = new Database(path);
  const s = db.prepare(
    `INSERT INTO sessions (id, key, sub, act, jti, intent_json, intent_version, purpose, transport, started_at, ended_at, outcome, calls, drift, status, events, hash, prev_hash)
     VALUES (?, ?, ?, NULL, ?, ?, 1, ?, 'stdio', ?, ?, 'allow', 1, 0, 'closed', 2, 'x', 'x')`,
  );
  const e = db.prepare(
    `INSERT INTO events (session_id, seq, time, dir, kind, method, tool, call, msg_id, bytes, raw, hash, prev_hash)
     VALUES (?, ?, ?, ?, ?, 'tools/call', 'echo', 0, '1', 10, ?, 'x', 'x')`,
  );
  const a = db.prepare(
    `INSERT INTO alerts (id, session_id, decision_id, time, rule, severity, action, outcome, json)
     VALUES (?, ?, ?, ?, 'IG-INT-001', 'medium', 'reauthorize', 'reauthorize', '{"reason":"bench"}')`,
  );
  const intent = JSON.stringify({ purpose: 'bench', tools: ['echo'], budget: { calls: 20 }, version: 1 });
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const id = `ig-bench-${i}`;
      s.run(id, `agent:${i % 50}#d`, `agent:${i % 50}`, `jti-${i}`, intent, 'summarise the notes', i, i + 5);
      e.run(
        id,
        0,
        i,
        'c2s',
        'request',
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}',
      );
      e.run(id, 1, i + 1, 's2c', 'response', '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}');
      a.run(`al-${i}`, id, `dec-${i}`, i);
    }
  })();
  db.close();
}

async function timed(url: string, runs: number): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    await r.text();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

export async function benchConsole(): Promise<void> {
  const rows: Record<string, string>[] = [];
  let live = NaN;
  for (const n of [100, 100_000]) {
    const path = join(mkdtempSync(join(tmpdir(), 'ig-bench-console-')), 'bench.db');
    openStore(path).close();
    seed(path, n);
    const store = openStore(path);
    const c = await startConsole({ store, port: 0, token: TOKEN });
    await timed(`${c.url}/api/sessions`, 5); // warm the statements
    for (const [label, q] of [
      ['GET /api/sessions (page 1)', '/api/sessions'],
      ['GET /api/sessions (deep page)', `/api/sessions?before=${Math.floor(n / 2)}`],
      ['GET /sessions (HTML page 1)', '/sessions'],
      ['GET /api/alerts (page 1, one alert a session)', '/api/alerts'],
      ['GET /api/alerts?state=open', '/api/alerts?state=open'],
    ] as const) {
      // Pages need a login cookie: the HTML view is timed through the API's bearer path on the same queries.
      const url = `${c.url}${q}`;
      const t = label.includes('HTML') ? await timedPage(c.url, url) : await timed(url, 30);
      rows.push({
        sessions: n.toLocaleString('en-US'),
        request: label,
        'p50 ms': fmt(t.p50),
        'p99 ms': fmt(t.p99),
      });
    }
    if (n === 100_000) live = await firstLiveUpdate(c.url, path);
    await c.close();
    store.close();
  }
  rows.push(...(await pgRows(100_000)));
  printTable('Console: list view server time (50 rows a page, keyset pagination; target < 300 ms)', rows);
  console.log(
    `Console: first live update after another connection commits: ${fmt(live)} ms (target < 1000 ms)`,
  );
}

async function timedPage(base: string, url: string): Promise<{ p50: number; p99: number }> {
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: TOKEN }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const ms: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    await (await fetch(url, { headers: { cookie } })).text();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

/** Open the event stream, commit a row from another connection, and time until `change` arrives. */
async function firstLiveUpdate(base: string, path: string): Promise<number> {
  const res = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('event: hello')) text += decoder.decode((await reader.read()).value);
  const db = new Database(path);
  const t = performance.now();
  db.prepare(
    `INSERT INTO sessions (id, key, intent_json, intent_version, purpose, started_at, hash, prev_hash) VALUES ('ig-live', 'k', '{}', 1, 'live', 0, 'x', 'x')`,
  ).run();
  while (!text.includes('event: change')) text += decoder.decode((await reader.read()).value);
  const ms = performance.now() - t;
  await reader.cancel();
  db.close();
  return ms;
}

/** The same list views with `n` sessions (two events and one alert each) on a real PostgreSQL. */
async function pgRows(n: number): Promise<Record<string, string>[]> {
  const server = await startPostgres();
  try {
    const url = server.createDatabase('bench_console');
    const store = await openPgStore(url, {
      keyFile: join(mkdtempSync(join(tmpdir(), 'ig-bench-console-pg-')), 'audit.key'),
    });
    const intent = JSON.stringify({ purpose: 'bench', tools: ['echo'], budget: { calls: 20 }, version: 1 });
    const q = (sql: string, params: unknown[] = []) => store.pg.pool.query(sql, params);
    await q(
      `INSERT INTO sessions (id, key, sub, jti, intent_json, intent_version, purpose, transport, started_at, ended_at, outcome, calls, drift, status, events, hash, prev_hash)
      SELECT 'ig-bench-' || i, 'agent:' || (i % 50) || '#d', 'agent:' || (i % 50), 'jti-' || i, $2, 1, 'summarise the notes',
        'stdio', i, i + 5, 'allow', 1, 0, 'closed', 2, 'x', 'x' FROM generate_series(0, $1 - 1) i`,
      [n, intent],
    );
    await q(
      `INSERT INTO events (session_id, seq, time, dir, kind, method, tool, call, msg_id, bytes, raw, hash, prev_hash)
      SELECT 'ig-bench-' || i, k, i + k, CASE k WHEN 0 THEN 'c2s' ELSE 's2c' END, CASE k WHEN 0 THEN 'request' ELSE 'response' END,
        'tools/call', 'echo', 0, '1', 10, '{}', 'x', 'x' FROM generate_series(0, $1 - 1) i, generate_series(0, 1) k`,
      [n],
    );
    await q(
      `INSERT INTO alerts (id, session_id, decision_id, time, rule, severity, action, outcome, json)
      SELECT 'al-' || i, 'ig-bench-' || i, 'dec-' || i, i, 'IG-INT-001', 'medium', 'reauthorize', 'reauthorize',
        '{"reason":"bench"}' FROM generate_series(0, $1 - 1) i`,
      [n],
    );
    await q('ANALYZE');
    const readOnly = () => Promise.reject(new Error('the bench only reads'));
    const data = await pgConsoleData(store, {
      decide: readOnly,
      revoke: readOnly,
      approvals: { append: readOnly, seal: readOnly },
    });
    const c = await startConsole({ data, port: 0, token: TOKEN });
    const rows: Record<string, string>[] = [];
    try {
      await timed(`${c.url}/api/sessions`, 5);
      for (const [label, path] of [
        ['PostgreSQL: GET /api/sessions (page 1)', '/api/sessions'],
        ['PostgreSQL: GET /api/sessions (deep page)', `/api/sessions?before=${Math.floor(n / 2)}`],
        ['PostgreSQL: GET /api/alerts (page 1)', '/api/alerts'],
      ] as const) {
        const t = await timed(`${c.url}${path}`, 30);
        rows.push({
          sessions: n.toLocaleString('en-US'),
          request: label,
          'p50 ms': fmt(t.p50),
          'p99 ms': fmt(t.p99),
        });
      }
    } finally {
      await c.close();
      await store.close();
    }
    return rows;
  } finally {
    server.stop();
  }
}
