import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { parseIntent } from '../intent/parse.js';
import { createMonitor } from '../monitor/create.js';
import { tap } from '../tap/tap.js';
import { loadRulePack, packPolicies } from '../rules/pack.js';
import { openStore } from '../store/db.js';
import { createRecorder } from '../store/recorder.js';
import { actionLabel, brief } from './format.js';

/**
 * `intentguard demo`: a real `@modelcontextprotocol/server-filesystem` on a temporary folder, an SDK
 * client behind the tap, an approved task, then drift. Prints every call with its decision.
 */
export async function demoCommand(out: NodeJS.WritableStream = process.stdout, options: { db?: string } = {}): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'intentguard-demo-'));
  mkdirSync(join(root, 'project'));
  mkdirSync(join(root, 'private'));
  writeFileSync(join(root, 'project', 'notes.md'), '# Q3 notes\nShip the beta on Friday.\n');
  writeFileSync(join(root, 'private', 'credentials.env'), 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n');
  const project = join(root, 'project');
  const intent = parseIntent({
    id: 'demo-summarise-notes',
    purpose: 'Summarise the project notes in project/notes.md',
    tools: ['list_directory', { name: 'read_text_file', args: { path: { prefix: [project + '/'] } } }],
    budget: { calls: 5 },
  });
  const require = createRequire(import.meta.url);
  const serverEntry = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');
  const monitor = createMonitor({ policy: packPolicies(loadRulePack()) });
  const store = options.db ? openStore(options.db) : undefined;
  const recorder = store && createRecorder(store, monitor);
  monitor.decisions$.subscribe((d) => {
    if (d.kind !== 'request' || d.tool === undefined) return;
    const why = d.findings.map((f) => `${f.rule}: ${f.reason}`).join('; ');
    out.write(`  → ${actionLabel(d.action, out)}${why ? ` ${why}` : ''}\n`);
  });
  out.write(`intentguard demo — server-filesystem on ${root}\napproved intent: "${intent.purpose}" (tools: list_directory, read_text_file under project/; budget 5 calls)\n\n`);
  const transport = tap(new StdioClientTransport({ command: process.execPath, args: [serverEntry, root], stderr: 'ignore' }), monitor, {
    side: 'client', intent, identity: { sub: 'agent:demo-summariser' },
  });
  const client = new Client({ name: 'demo-agent', version: '1.0.0' });
  await client.connect(transport);
  const call = async (label: string, name: string, args: Record<string, unknown>) => {
    out.write(`${label}\n  call ${name} ${brief(args)}\n`);
    try {
      const r = await client.callTool({ name, arguments: args });
      out.write(`  ← ${brief(r.content, 70)}\n`);
    } catch (e) {
      const data = (e as McpError).data as { code?: string } | undefined;
      out.write(`  ← error ${(e as McpError).code ?? ''} ${data?.code ?? (e as Error).message}\n`);
    }
  };
  try {
    await call('1. the approved task: look around', 'list_directory', { path: project });
    await call('2. the approved task: read the notes', 'read_text_file', { path: join(project, 'notes.md') });
    await call('3. drift: read a secret outside the task', 'read_text_file', { path: join(root, 'private', 'credentials.env') });
    await call('4. drift: write the secret out of the approved folder', 'write_file', { path: join(root, 'exfil.txt'), content: 'AWS_SECRET_ACCESS_KEY=…' });
    await call('5. keeps going', 'list_directory', { path: root });
    await call('6. over budget', 'read_text_file', { path: join(project, 'notes.md') });
    await call('7. after the halt', 'list_directory', { path: project });
  } finally {
    const written = existsSync(join(root, 'exfil.txt'));
    out.write(`\nsession halted: ${transport.session.status === 'halted'}; exfil.txt written: ${written}\n`);
    await client.close().catch(() => {});
    await Promise.race([transport.session.whenEnded(), new Promise((r) => setTimeout(r, 3000))]);
    await recorder?.close();
    monitor.close();
    store?.close();
    rmSync(root, { recursive: true, force: true });
    if (options.db) out.write(`recorded in ${options.db} as session ${transport.session.id}\n  see it:   intentguard show ${transport.session.id} --db ${options.db}\n  verify:   intentguard audit verify ${options.db}\n`);
  }
  return 0;
}
