import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { mintGrant } from '../identity/grant.js';
import { generateKeys } from '../identity/keys.js';
import { openStore } from '../store/db.js';
import { listSessions, sessionTimeline } from '../store/queries.js';
import { actionLabel, brief } from './format.js';

const ISS = 'https://idp.demo.local';
const AUD = 'https://intentguard.demo.local/mcp';

/**
 * `intentguard demo` (`npm start`): a real MCP filesystem server (`intentguard demo-server`) on a temporary
 * folder behind `intentguard stdio`; an SDK client with a minted grant does the approved task, then
 * drifts. Prints every call with its decision, the re-authorization, the halt, and where it was recorded.
 */
export async function demoCommand(
  out: NodeJS.WritableStream = process.stdout,
  options: { db?: string } = {},
): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'intentguard-demo-'));
  const project = join(root, 'project');
  mkdirSync(project);
  mkdirSync(join(root, 'private'));
  writeFileSync(join(project, 'notes.md'), '# Q3 notes\nShip the beta on Friday.\n');
  writeFileSync(
    join(root, 'private', 'credentials.env'),
    'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n',
  );
  const db = resolve(options.db ?? './intentguard.db');
  // intentguard's own files (the key set, the alerts) live outside the folder the server serves.
  const state = mkdtempSync(join(tmpdir(), 'intentguard-demo-state-'));
  const keys = await generateKeys('ES256');
  writeFileSync(join(state, 'jwks.json'), JSON.stringify(keys.publicJwks));
  const alertsFile = join(state, 'alerts.jsonl');
  const inProject = { path: { prefix: [`${project}/`] } };
  const intent = {
    id: 'demo-summarise-notes',
    purpose: 'Summarise the project notes in project/notes.md',
    tools: [
      { name: 'list_directory', args: inProject },
      { name: 'read_text_file', args: inProject },
    ],
    budget: { calls: 6 },
  };
  const grant = await mintGrant({
    privateJwk: keys.privateJwk,
    iss: ISS,
    aud: AUD,
    sub: 'agent:demo-summariser',
    act: 'user:alice',
    ttl: '10m',
    intent,
  });
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'intentguard.js');
  // The server ships with intentguard (src/cli/demo-server.ts), so the demo runs from an install.
  const proxyArgs = [
    bin,
    'stdio',
    '--jwks',
    join(state, 'jwks.json'),
    '--issuer',
    ISS,
    '--audience',
    AUD,
    '--db',
    db,
    '--alerts-jsonl',
    alertsFile,
    '--elicitation',
    '--',
    process.execPath,
    bin,
    'demo-server',
    root,
  ];

  out.write(
    `intentguard demo\n  server:  a filesystem MCP server (stdio, list_directory/read_text_file/write_file) on ${root}\n  proxy:   intentguard stdio (grants verified with jose, rule pack, recording to ${db})\n`,
  );
  out.write(
    `  agent:   agent:demo-summariser acting for user:alice, grant minted for: "${intent.purpose}"\n           tools list_directory and read_text_file, both limited to project/ (write_file not approved) — budget 6 calls\n\n`,
  );
  const client = new Client({ name: 'demo-agent', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  // The "user" behind the client: asked to re-authorize, they refuse.
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    out.write(
      `  ? re-authorization asked over elicitation:\n      ${brief(req.params.message, 150)}\n    user answers: no\n`,
    );
    return { action: 'accept', content: { approve: false } };
  });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: proxyArgs,
    env: { ...(process.env as Record<string, string>), INTENTGUARD_GRANT: grant },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  await client.connect(transport);
  const call = async (label: string, name: string, args: Record<string, unknown>) => {
    out.write(`${label}\n  call ${name} ${brief(args, 90)}\n`);
    try {
      const r = await client.callTool({ name, arguments: args });
      out.write(`  → ${actionLabel('allow', out)} ← ${brief(r.content, 70)}\n`);
    } catch (e) {
      const err = e as McpError;
      const data = err.data as
        | { code?: string; action?: 'deny' | 'halt' | 'reauthorize'; rules?: string[]; reason?: string }
        | undefined;
      // Labelled by what happened: a call held for re-authorization and not approved was denied.
      const action = data?.code === 'ERR_SESSION_HALTED' ? 'halt' : data?.action === 'halt' ? 'halt' : 'deny';
      const held = data?.action === 'reauthorize' ? '(held for re-authorization, not approved) ' : '';
      out.write(
        `  → ${actionLabel(action, out)} ${held}${data?.code ?? ''} ${data?.rules?.length ? `[${data.rules.join(', ')}] ` : ''}${brief(data?.reason ?? err.message, 140)}\n`,
      );
    }
  };
  try {
    await call('1. the approved task: look around', 'list_directory', { path: project });
    await call('2. the approved task: read the notes', 'read_text_file', { path: join(project, 'notes.md') });
    await call('3. drift: read a secret outside the task', 'read_text_file', {
      path: join(root, 'private', 'credentials.env'),
    });
    await call('4. drift: write the secret out of the approved folder', 'write_file', {
      path: join(root, 'exfil.txt'),
      content: 'AWS_SECRET_ACCESS_KEY=...',
    });
    await call('5. drift: look around outside the project', 'list_directory', { path: root });
    await call('6. still the task', 'read_text_file', { path: join(project, 'notes.md') });
    await call('7. over budget', 'read_text_file', { path: join(project, 'notes.md') });
    await call('8. after the halt', 'list_directory', { path: project });
  } finally {
    await client.close().catch(() => {});
  }
  // The halted session's grant was revoked: presenting it again opens nothing.
  const again = new Client({ name: 'demo-agent', version: '1.0.0' });
  const retry = await again
    .connect(
      new StdioClientTransport({
        command: process.execPath,
        args: proxyArgs,
        env: { ...(process.env as Record<string, string>), INTENTGUARD_GRANT: grant },
        stderr: 'ignore',
      }),
    )
    .then(
      () => 'connected',
      (e: Error) => e.message,
    );
  await again.close().catch(() => {});
  out.write(`\nsame grant, new session: ${brief(retry, 120)}\n`);
  out.write(`exfil.txt written: ${existsSync(join(root, 'exfil.txt'))}\n`);
  const alerts = existsSync(alertsFile)
    ? readFileSync(alertsFile, 'utf8').trim().split('\n').filter(Boolean)
    : [];
  out.write(
    `alerts (OCSF, ${alertsFile}): ${alerts.length} — ${[...new Set(alerts.map((l) => (JSON.parse(l) as { finding_info: { analytic: { uid: string } } }).finding_info.analytic.uid))].join(', ')}\n`,
  );
  const store = openStore(db, { readonly: true });
  try {
    const [session] = listSessions(store, { limit: 2 }).filter(
      (s) => s.sub === 'agent:demo-summariser' && s.calls,
    );
    if (session) {
      const t = sessionTimeline(store, session.id)!;
      const stops = t.entries.filter((e) => e.action && e.action !== 'allow' && e.action !== 'alert');
      out.write(
        `recorded in ${db} as session ${session.id}: ${session.calls} calls, outcome ${session.outcome}, ${stops.length} calls stopped (drift ${(session.drift ?? 0).toFixed(2)}: the share of its calls a decision stopped; \`intentguard sessions\` shows it)\n`,
      );
      // From a git checkout the CLI is `node bin/intentguard.js`; installed, it is the `intentguard` bin.
      const cli = existsSync(join(dirname(bin), '..', '.git')) ? 'node bin/intentguard.js' : 'intentguard';
      out.write(`  see it:   ${cli} show ${session.id} --db ${db}\n  verify:   ${cli} audit verify ${db}\n`);
    }
  } finally {
    store.close();
  }
  if (process.env.INTENTGUARD_DEMO_DEBUG) out.write(stderr);
  rmSync(root, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
  return 0;
}
