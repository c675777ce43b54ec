// Profiling helper (not a benchmark): system calls per proxied call on the stdio path, counted by
// `strace -f -c` attached to the warm proxy (all its threads, not the server it runs) for the measured
// calls only, for the null relay and `intentguard stdio`.
// Usage: node --import tsx bench/profile-syscalls.ts [calls] [null,policy,pack-norec,pack]. Linux, strace.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { proxyBenchDir } from './lib.js';

const calls = Number(process.argv[2] ?? 5000);
const variants = (process.argv[3] ?? 'null,policy,pack-norec,pack').split(',');
const node = process.execPath;
const { dir, variantArgs: argsOf } = proxyBenchDir('ig-profile-syscalls-');

for (const v of variants) {
  const out = join(dir, `${v}.strace`);
  const client = new Client({ name: 'profile', version: '1' });
  const transport = new StdioClientTransport({ command: node, args: argsOf(v) });
  await client.connect(transport);
  for (let i = 0; i < 2000; i++) await client.callTool({ name: 'noop', arguments: {} });
  const strace = spawn('strace', ['-f', '-c', '-o', out, '-p', String(transport.pid)], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await client.callTool({ name: 'noop', arguments: {} });
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / calls;
  const done = new Promise((r) => strace.once('exit', r));
  strace.kill('SIGINT');
  await done;
  await client.close();
  const rows = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => /^\s*\d/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .map((f) => ({ name: f.at(-1)!, calls: Number(f[3]) }))
    .filter((r) => r.calls / calls >= 0.05)
    .sort((a, b) => b.calls - a.calls);
  console.log(
    `${v}: ${us.toFixed(0)} us/call under strace; per call: ${rows.map((r) => `${r.name} ${(r.calls / calls).toFixed(2)}`).join(', ')}`,
  );
}
rmSync(dir, { recursive: true, force: true });
