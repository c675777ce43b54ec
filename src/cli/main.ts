import { Command, InvalidArgumentError } from 'commander';
import { demoCommand } from './demo.js';
import { replayCommand } from './replay-command.js';
import { rulesLintCommand, rulesTestCommand } from './rules-command.js';
import { loadRulePack } from '../rules/pack.js';
import { rulesPolicy } from '../rules/engine.js';

const rulesPolicies = (dirs: string[]) => [rulesPolicy(loadRulePack(dirs))];

const program = new Command()
  .name('intentguard')
  .description('Intent-aware session monitor for MCP')
  .showHelpAfterError();

program.command('demo')
  .description('run a real MCP server behind intentguard and watch a drifting agent get stopped')
  .action(async () => { process.exitCode = await demoCommand(); });

const collect = (value: string, previous: string[]) => [...previous, value];

program.command('replay')
  .description('feed recorded session bundles (JSON lines, plain or gzipped) through the monitor')
  .argument('<file>', 'session bundle file')
  .option('--json', 'one JSON result per session')
  .option('--rules <dir>', 'site rule directory loaded after the shipped pack (repeatable)', collect, [])
  .option('--no-pack', 'only the built-in intent policy (no rule pack)')
  .action(async (file: string, opts: { json?: boolean; rules: string[]; pack: boolean }) => {
    const policies = opts.pack ? rulesPolicies(opts.rules) : [];
    process.exitCode = await replayCommand(file, { json: Boolean(opts.json), policies, pack: opts.pack });
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

export { InvalidArgumentError };

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`intentguard: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
  process.exitCode = 2;
});
