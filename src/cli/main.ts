import { Command, InvalidArgumentError } from 'commander';
import { intentPolicy } from '../policy/intent-policy.js';
import type { Policy } from '../policy/types.js';
import { rulesPolicy } from '../rules/engine.js';
import { loadRulePack } from '../rules/pack.js';
import { DEFAULT_DB, openStore } from '../store/db.js';
import { decideInDatabase } from '../approvals/approvals.js';
import { demoCommand } from './demo.js';
import { replayCommand } from './replay-command.js';
import { rulesLintCommand, rulesTestCommand } from './rules-command.js';
import {
  auditVerifyCommand, exportCommand, importCommand, isSqliteFile, pruneCommand, replayDbCommand, sessionsCommand, showCommand,
} from './store-commands.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/** The policies a CLI command runs: the shipped pack plus site rules, or the intent policy alone. */
const policiesFor = (opts: { rules: string[]; pack: boolean }): Policy<any>[] =>
  opts.pack ? [intentPolicy({ outsideTools: 'allow' }), rulesPolicy(loadRulePack(opts.rules))] : [intentPolicy()];

const program = new Command()
  .name('intentguard')
  .description('Intent-aware session monitor for MCP')
  .showHelpAfterError();

program.command('demo')
  .description('run a real MCP server behind intentguard and watch a drifting agent get stopped')
  .option('--db <path>', 'record the demo session here', DEFAULT_DB)
  .action(async (opts: { db: string }) => { process.exitCode = await demoCommand(process.stdout, { db: opts.db }); });

program.command('replay')
  .description('feed recorded sessions (a bundle file, plain or gzipped, or an intentguard database) through the monitor')
  .argument('<file>', 'session bundle file or intentguard.db')
  .option('--json', 'one JSON result per session')
  .option('--rules <dir>', 'site rule directory loaded after the shipped pack (repeatable)', collect, [])
  .option('--no-pack', 'only the built-in intent policy (no rule pack)')
  .option('--session <id>', 'database only: one session')
  .option('--since <time>', 'database only: sessions started after an ISO time or a duration ago (24h)')
  .option('--diff', 'database only: show which recorded decisions would change with the current rules, and why')
  .action(async (file: string, opts: { json?: boolean; rules: string[]; pack: boolean; session?: string; since?: string; diff?: boolean }) => {
    if (isSqliteFile(file)) {
      process.exitCode = await replayDbCommand(file, { ...opts, policies: policiesFor(opts) });
      return;
    }
    process.exitCode = await replayCommand(file, { json: Boolean(opts.json), policies: opts.pack ? [rulesPolicy(loadRulePack(opts.rules))] : [], pack: opts.pack });
  });

const rules = program.command('rules').description('test and lint rule packs');
rules.command('test')
  .description('run every rule fixture (shipped pack plus DIRs) and the coverage gate')
  .argument('[dirs...]', 'site rule directories')
  .action(async (dirs: string[]) => { process.exitCode = await rulesTestCommand(dirs); });
rules.command('lint')
  .description('load and lint rule files: syntax, schema, fields, functions, regexes, messages, fixtures')
  .argument('[dirs...]', 'site rule directories')
  .action((dirs: string[]) => { process.exitCode = rulesLintCommand(dirs); });

program.command('sessions')
  .description('list recorded sessions: identity, purpose, calls, outcome, drift')
  .option('--db <path>', 'database', DEFAULT_DB)
  .option('--limit <n>', 'how many', positiveInt, 50)
  .option('--json', 'one JSON object per session')
  .option('--live', 'refresh every second')
  .action(async (opts: { db: string; limit: number; json?: boolean; live?: boolean }) => { process.exitCode = await sessionsCommand(opts); });

program.command('show')
  .description('the timeline of a session: calls, decisions and reasons')
  .argument('<session>', 'session id')
  .option('--db <path>', 'database', DEFAULT_DB)
  .option('--json', 'machine-readable')
  .action((id: string, opts: { db: string; json?: boolean }) => { process.exitCode = showCommand(id, opts); });

program.command('audit')
  .description('tamper-evident audit trail')
  .command('verify')
  .description('verify the hash chains; report the first altered, inserted or deleted row')
  .argument('[db]', 'database', DEFAULT_DB)
  .action((db: string) => { process.exitCode = auditVerifyCommand(db); });

program.command('prune')
  .description('delete ended sessions older than a duration (the audit chain is re-anchored)')
  .requiredOption('--older-than <duration>', 'e.g. 30d')
  .option('--db <path>', 'database', DEFAULT_DB)
  .action((opts: { db: string; olderThan: string }) => { process.exitCode = pruneCommand(opts); });

program.command('export')
  .description('write recorded sessions as bundles (JSON lines; gzipped for .gz)')
  .option('--db <path>', 'database', DEFAULT_DB)
  .option('--session <id>', 'one session')
  .option('--since <time>', 'ISO time or a duration ago (24h)')
  .option('--out <file>', 'file instead of stdout')
  .action(async (opts: { db: string; session?: string; since?: string; out?: string }) => { process.exitCode = await exportCommand(opts); });

program.command('import')
  .description('load bundles into the database (run through the monitor and recorded)')
  .argument('<file>', 'bundle file')
  .option('--db <path>', 'database', DEFAULT_DB)
  .option('--rules <dir>', 'site rule directory (repeatable)', collect, [])
  .option('--no-pack', 'only the built-in intent policy')
  .action(async (file: string, opts: { db: string; rules: string[]; pack: boolean }) => { process.exitCode = await importCommand(file, { db: opts.db, policies: policiesFor(opts) }); });

for (const verb of ['approve', 'deny'] as const) {
  program.command(verb)
    .description(`${verb} a held call (re-authorization) waiting in a running intentguard`)
    .argument('<id>', 'approval id (from the alert or intentguard sessions)')
    .option('--db <path>', 'database the running intentguard records to', DEFAULT_DB)
    .option('--by <name>', 'who decides (recorded)', process.env.USER ?? 'cli')
    .option('--scope <scope>', 'once or session', 'once')
    .action((id: string, opts: { db: string; by: string; scope: string }) => {
      const store = openStore(opts.db);
      try {
        const r = decideInDatabase(store, id, verb === 'approve', opts.by, opts.scope === 'session' ? 'session' : 'once');
        process.stdout.write(`${verb === 'approve' ? 'approved' : 'denied'} ${id} (${r.tool} in session ${r.session}) as ${opts.by}\n`);
      } finally {
        store.close();
      }
    });
}

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`intentguard: ${err.code && !err.message?.includes(err.code) ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
  process.exitCode = 2;
});
