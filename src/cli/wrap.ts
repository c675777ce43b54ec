import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IntentGuardError } from '../errors.js';

/** The desktop clients whose MCP configuration `wrap` knows: where it lives and which key lists the servers. */
const WRAP_CLIENTS = ['claude', 'cursor', 'vscode'] as const;
type WrapClient = (typeof WRAP_CLIENTS)[number];

type Entry = Record<string, unknown>;
type Out = { write(s: string): unknown };

const serversKey = (client: WrapClient) => (client === 'vscode' ? 'servers' : 'mcpServers');

/** The client's own configuration file (Claude Desktop per platform, Cursor per user, VS Code per workspace). */
function defaultConfigFile(
  client: WrapClient,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string {
  const home = env.HOME ?? homedir();
  if (client === 'cursor') return join(home, '.cursor', 'mcp.json');
  if (client === 'vscode') return join(cwd, '.vscode', 'mcp.json');
  if (platform() === 'darwin')
    return join(home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
  if (platform() === 'win32')
    return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Claude', 'claude_desktop_config.json');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'Claude', 'claude_desktop_config.json');
}

/** This installation's launcher (bin/intentguard.js), run by the absolute path of this node: desktop clients start servers without the user's PATH. */
const launcher = () => fileURLToPath(new URL('../../bin/intentguard.js', import.meta.url));

const isStdio = (client: WrapClient, e: Entry) =>
  typeof e.command === 'string' &&
  e.url === undefined &&
  (client !== 'vscode' || e.type === undefined || e.type === 'stdio');

/** An entry already running through intentguard stdio: its original command follows `--`. */
const isWrapped = (e: Entry) =>
  Array.isArray(e.args) &&
  typeof e.args[0] === 'string' &&
  basename(e.args[0]) === 'intentguard.js' &&
  e.args[1] === 'stdio' &&
  e.args.includes('--');

const fileName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'server';

const learnIntent = (client: WrapClient, name: string) =>
  [
    `# Learn mode for the ${client} server "${name}" (written by intentguard wrap): nothing is approved, so`,
    '# every call is recorded, alerted as outside intent, and delivered (--mode monitor).',
    '# When you have watched enough: intentguard intent suggest --db <its database> > this file, review it,',
    '# and change --mode monitor to --mode enforce in the client configuration.',
    'id: learn-mode',
    `purpose: ${JSON.stringify(`learn mode for ${name}: no intent approved yet`)}`,
    'tools: []',
    '',
  ].join('\n');

/** The file as JSON, its indentation and final newline kept for writing back. */
function readConfig(
  file: string,
  client: WrapClient,
): { doc: Entry; servers: Record<string, Entry>; text: string; indent: string | number } {
  if (!existsSync(file))
    throw new IntentGuardError(
      'ERR_WRAP_CONFIG',
      `${file}: no ${client} MCP configuration there (pass --config FILE)`,
    );
  const text = readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new IntentGuardError(
      'ERR_WRAP_CONFIG',
      `${file}: not JSON (${(e as Error).message}); comments are not supported, remove them first`,
    );
  }
  const key = serversKey(client);
  const servers = (doc as Entry | null)?.[key];
  if (
    typeof doc !== 'object' ||
    doc === null ||
    Array.isArray(doc) ||
    typeof servers !== 'object' ||
    servers === null ||
    Array.isArray(servers)
  ) {
    throw new IntentGuardError(
      'ERR_WRAP_CONFIG',
      `${file}: expected an object with "${key}" (the ${client} MCP configuration)`,
    );
  }
  const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? 2;
  return { doc: doc as Entry, servers: servers as Record<string, Entry>, text, indent };
}

const writeAtomic = (file: string, text: string) => {
  writeFileSync(`${file}.intentguard-tmp`, text);
  renameSync(`${file}.intentguard-tmp`, file);
};
const serialize = (doc: Entry, indent: string | number, like: string) =>
  `${JSON.stringify(doc, null, indent)}${like.endsWith('\n') ? '\n' : ''}`;

/** Where wrap keeps a configuration's original text (unwrap restores from it). */
const backupFile = (file: string) => `${file}.intentguard-backup`;

export interface WrapOptions {
  readonly client: WrapClient | 'all';
  readonly config?: string;
  readonly dryRun?: boolean;
  /** Where the learn-mode intents and the database go (default ~/.intentguard). */
  readonly home?: string;
}

function targets(o: WrapOptions): { client: WrapClient; file: string }[] {
  if (o.config !== undefined) {
    if (o.client === 'all')
      throw new IntentGuardError(
        'ERR_CONFIG',
        '--config names one file: say which client wrote it (--client claude|cursor|vscode)',
      );
    return [{ client: o.client, file: resolve(o.config) }];
  }
  const clients = o.client === 'all' ? WRAP_CLIENTS : [o.client];
  const found = clients.map((client) => ({ client, file: defaultConfigFile(client) }));
  return o.client === 'all' ? found.filter((t) => existsSync(t.file)) : found;
}

/**
 * `intentguard wrap`: every stdio server of the client's MCP configuration runs through
 * `intentguard stdio --mode monitor` with a learn-mode intent file of its own (original command and
 * arguments after `--`, env and other settings kept). The original text is kept in a backup file;
 * wrapping twice changes nothing.
 * @example wrapCommand({ client: 'cursor' })
 */
export function wrapCommand(o: WrapOptions, out: Out = process.stdout): number {
  const home = o.home ?? join(process.env.HOME ?? homedir(), '.intentguard');
  const list = targets(o);
  if (list.length === 0)
    throw new IntentGuardError(
      'ERR_WRAP_CONFIG',
      `no MCP configuration of ${WRAP_CLIENTS.join(', ')} found (pass --client and --config FILE)`,
    );
  for (const { client, file } of list) {
    const { doc, servers, text, indent } = readConfig(file, client);
    const wrapped: string[] = [];
    const intents: [string, string][] = [];
    for (const [name, entry] of Object.entries(servers)) {
      if (typeof entry !== 'object' || entry === null || !isStdio(client, entry) || isWrapped(entry))
        continue;
      const intent = join(home, 'intents', `${fileName(client)}-${fileName(name)}.yaml`);
      const args = [
        launcher(),
        'stdio',
        '--mode',
        'monitor',
        '--intent',
        intent,
        '--db',
        join(home, 'intentguard.db'),
        '--',
        entry.command as string,
        ...(Array.isArray(entry.args) ? entry.args.map(String) : []),
      ];
      // Spread keeps the entry's key order (env, cwd, type stay where they were).
      servers[name] = { ...entry, command: process.execPath, args };
      wrapped.push(name);
      intents.push([intent, learnIntent(client, name)]);
    }
    if (wrapped.length === 0) {
      out.write(`${file}: nothing to wrap (every stdio server already runs through intentguard)\n`);
      continue;
    }
    out.write(
      `${o.dryRun ? 'would wrap' : 'wrapped'} ${wrapped.join(', ')} in ${file}${o.dryRun ? '' : ` (backup: ${backupFile(file)})`}\n`,
    );
    if (o.dryRun) {
      for (const n of wrapped) out.write(`  ${n}: ${JSON.stringify(servers[n])}\n`);
      continue;
    }
    // The first wrap's backup is the original: a later wrap (of servers added since) must not replace it.
    if (!existsSync(backupFile(file))) writeFileSync(backupFile(file), text);
    for (const [intent, body] of intents) {
      mkdirSync(dirname(intent), { recursive: true });
      if (!existsSync(intent)) writeFileSync(intent, body);
    }
    writeAtomic(file, serialize(doc, indent, text));
  }
  return 0;
}

/**
 * `intentguard unwrap`: every wrapped entry gets its original back — from the backup when it holds
 * that entry (exactly as it was), otherwise from the command after `--`. The file becomes the backup's
 * text again when nothing else in it changed.
 */
export function unwrapCommand(o: WrapOptions, out: Out = process.stdout): number {
  const list = targets(o);
  if (list.length === 0)
    throw new IntentGuardError(
      'ERR_WRAP_CONFIG',
      `no MCP configuration of ${WRAP_CLIENTS.join(', ')} found (pass --client and --config FILE)`,
    );
  for (const { client, file } of list) {
    const { doc, servers, text, indent } = readConfig(file, client);
    const backup = existsSync(backupFile(file)) ? readConfig(backupFile(file), client) : undefined;
    const restored: string[] = [];
    for (const [name, entry] of Object.entries(servers)) {
      if (typeof entry !== 'object' || entry === null || !isWrapped(entry)) continue;
      const original = backup?.servers[name];
      if (original !== undefined && !isWrapped(original)) servers[name] = original;
      else {
        const args = (entry.args as string[]).slice((entry.args as string[]).indexOf('--') + 1);
        servers[name] = { ...entry, command: args[0], args: args.slice(1) };
      }
      restored.push(name);
    }
    if (restored.length === 0) {
      out.write(`${file}: nothing to unwrap\n`);
      continue;
    }
    out.write(`${o.dryRun ? 'would restore' : 'restored'} ${restored.join(', ')} in ${file}\n`);
    if (o.dryRun) continue;
    const next = serialize(doc, indent, text);
    writeAtomic(
      file,
      backup && serialize(backup.doc, backup.indent, backup.text) === next ? backup.text : next,
    );
    if (backup) rmSync(backupFile(file));
  }
  return 0;
}
