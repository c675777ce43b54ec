import { Command, InvalidArgumentError } from 'commander';
import { demoCommand } from './demo.js';
import { replayCommand } from './replay-command.js';

const program = new Command()
  .name('intentguard')
  .description('Intent-aware session monitor for MCP')
  .showHelpAfterError();

program.command('demo')
  .description('run a real MCP server behind intentguard and watch a drifting agent get stopped')
  .action(async () => { process.exitCode = await demoCommand(); });

program.command('replay')
  .description('feed recorded session bundles (JSON lines, plain or gzipped) through the monitor')
  .argument('<file>', 'session bundle file')
  .option('--json', 'one JSON result per session')
  .action(async (file: string, opts: { json?: boolean }) => {
    process.exitCode = await replayCommand(file, { json: Boolean(opts.json) });
  });

export { InvalidArgumentError };

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`intentguard: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
  process.exitCode = 2;
});
