import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DB } from '../store/paths.js';
import { isPostgresUrl } from '../store/location.js';
import { addListenOptions, addProxyOptions, type ProxyFlags } from './proxy-options.js';
import { handleClosedPipes } from './pipes.js';
import { exitStatus, failureText, reportUnhandled } from './report.js';
import { IntentGuardError } from '../errors.js';
import { choiceFlag, durationFlag, sinceFlag } from './config.js';
import { packageVersion } from './version.js';
import type { httpCommand, wsCommand } from './proxy-commands.js';
import type { grantInspectCommand, grantMintCommand } from './identity-commands.js';

// Each command imports its subsystem when it runs: `intentguard --help`, and a desktop client starting
// a stdio proxy per server, load only what they use (bench: `npm run bench -- startup`).

const collect = (value: string, previous: string[]) => [...previous, value];
const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

const jobsOption = (v: string): number | 'auto' => (v === 'auto' ? 'auto' : positiveInt(v));
const pipes = handleClosedPipes();

/** The policies a CLI command runs: the shipped pack plus site rules, or the intent policy alone. */

const program = new Command()
  .name('intentguard')
  .description('Intent-aware session monitor for MCP')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError();

/** Help for `--store`: a SQLite file (the default one, unless `withDefault` is false) or a PostgreSQL URL. */
const storeHelp = (what: string, withDefault = true) =>
  `${what}: a SQLite file${withDefault ? ` (default ${DEFAULT_DB})` : ''} or a postgres:// URL (env INTENTGUARD_STORE)`;
/** Commands whose store is optional (none unless named). */
const NO_DEFAULT_STORE = new Set(['inspect']);
// Every command with --store/--db: the location chosen (flag, INTENTGUARD_STORE, default) is checked
// before the command runs and handed to it as `opts.db`.
program.hook('preAction', async (_program, action) => {
  if (!action.options.some((o) => o.long === '--store')) return;
  const { chooseStore } = await import('./store-flag.js');
  const opts = action.opts<{ store?: string; db?: string }>();
  const chosen = chooseStore(opts, process.env, NO_DEFAULT_STORE.has(action.name()) ? null : DEFAULT_DB);
  action.setOptionValue('db', chosen);
});

program
  .command('demo')
  .description('run a real MCP server behind intentguard and watch a drifting agent get stopped')
  .option('--store <url|path>', storeHelp('record the demo session here'))
  .option('--db <path>', 'the older name of --store')
  .action(async (opts: { db: string }) => {
    process.exitCode = await (await import('./demo.js')).demoCommand(process.stdout, { db: opts.db });
  });

// The demo's own MCP server (src/cli/demo-server.ts), started by `demo` behind `intentguard stdio`.
program
  .command('demo-server', { hidden: true })
  .argument('<folder>', 'the folder it serves')
  .action(async (folder: string) => {
    pipes.keepRunning();
    await (await import('./demo-server.js')).demoServerCommand(folder);
  });

program
  .command('replay')
  .description(
    'feed recorded sessions (a bundle file, plain or gzipped, or an intentguard database) through the monitor',
  )
  .argument('<file>', 'session bundle file or intentguard.db')
  .option('--json', 'one JSON result per session')
  .option('--rules <dir>', 'site rule directory loaded after the shipped pack (repeatable)', collect, [])
  .option('--no-pack', 'only the built-in intent policy (no rule pack)')
  .option(
    '--visibility <which>',
    'approved: replay as behind --visibility approved (calls of tools not offered are denied)',
    choiceFlag('--visibility', ['approved', 'all'] as const),
  )
  .option('--session <id>', 'database only: one session')
  .option(
    '--since <time>',
    'database only: sessions started after an ISO time or a duration ago (24h)',
    sinceFlag('--since'),
  )
  .option(
    '--diff',
    'database only: show which recorded decisions would change with the current rules, and why',
  )
  .option(
    '--jobs <n>',
    'replay on N worker threads, or "auto": one per core for large inputs (sessions are independent; output stays in order)',
    jobsOption,
    'auto',
  )
  .action(
    async (
      file: string,
      opts: {
        json?: boolean;
        rules: string[];
        pack: boolean;
        visibility?: 'approved' | 'all';
        session?: string;
        since?: string;
        diff?: boolean;
        jobs: number | 'auto';
      },
    ) => {
      const [{ isSqliteFile, replayDbCommand }, { replayCommand }] = await Promise.all([
        import('./store-commands.js'),
        import('./replay-command.js'),
      ]);
      if (isSqliteFile(file)) {
        process.exitCode = await replayDbCommand(file, opts);
        return;
      }
      process.exitCode = await replayCommand(file, {
        json: Boolean(opts.json),
        rules: opts.rules,
        pack: opts.pack,
        ...(opts.visibility && { visibility: opts.visibility }),
        jobs: opts.jobs,
      });
    },
  );

const rules = program.command('rules').description('test and lint rule packs');
rules
  .command('test')
  .description('run every rule fixture (shipped pack plus DIRs) and the coverage gate')
  .argument('[dirs...]', 'site rule directories')
  .option('--progress', 'draw progress on stderr even when it is not a terminal')
  .action(async (dirs: string[], opts: { progress?: boolean }) => {
    process.exitCode = await (
      await import('./rules-command.js')
    ).rulesTestCommand(dirs, process.stdout, opts);
  });
rules
  .command('lint')
  .description('load and lint rule files: syntax, schema, fields, functions, regexes, messages, fixtures')
  .argument('[dirs...]', 'site rule directories')
  .action(async (dirs: string[]) => {
    process.exitCode = (await import('./rules-command.js')).rulesLintCommand(dirs);
  });

program
  .command('sessions')
  .description('list recorded sessions: identity, purpose, calls, outcome, drift')
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .option('--limit <n>', 'how many', positiveInt, 50)
  .option('--json', 'one JSON object per session')
  .option('--live', 'refresh every second')
  .action(async (opts: { db: string; limit: number; json?: boolean; live?: boolean }) => {
    process.exitCode = await (await import('./store-commands.js')).sessionsCommand(opts);
  });

program
  .command('console')
  .description(
    'the security console: sessions, approvals, grant requests, alerts, rules, audit (web pages and /api/)',
  )
  .requiredOption('--listen <host:port>', 'where to listen, e.g. 127.0.0.1:8700')
  .option('--store <url|path>', storeHelp('database the proxies record into'))
  .option('--db <path>', 'the older name of --store')
  .option('--token <token>', 'admin bearer token, at least 16 characters (env INTENTGUARD_CONSOLE_TOKEN)')
  .option('--console-jwks <url|file>', 'verify identity JWTs (logins, grant requests) with this JWKS')
  .option('--console-issuer <iss>', 'required iss of identity JWTs')
  .option('--console-audience <aud>', 'required aud of identity JWTs')
  .option('--allowed-hosts <hosts...>', 'Host header values accepted besides the listen address')
  .option('--grant-key <file>', 'private JWK that grants requested at POST /token are signed with')
  .option('--grant-issuer <iss>', 'iss of minted grants')
  .option('--grant-audience <aud>', "aud of minted grants (the proxies' --audience)")
  .option('--grant-ttl <duration>', 'lifetime of minted grants (default 10m)', durationFlag('--grant-ttl'))
  .action(async (opts: import('./console-command.js').ConsoleFlags) => {
    process.exitCode = await (await import('./console-command.js')).consoleCommand(opts);
  });

program
  .command('show')
  .description('the timeline of a session: calls, decisions and reasons')
  .argument('<session>', 'session id')
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .option('--json', 'machine-readable')
  .action(async (id: string, opts: { db: string; json?: boolean }) => {
    process.exitCode = await (await import('./store-commands.js')).showCommand(id, opts);
  });

const audit = program.command('audit').description('tamper-evident audit trail');
audit
  .command('verify')
  .description(
    'verify the hash chains, seals and head anchor; name the first bad row of each table (exit 1), or sessions that ended without their seal (exit 2)',
  )
  .argument('[store]', 'the store (as --store)')
  .option('--store <url|path>', storeHelp('database'))
  .option('--json', 'machine-readable report')
  .action(async (store: string | undefined, opts: { store?: string; json?: boolean }) => {
    const { auditVerifyCommand, storeArgument } = await import('./store-commands.js');
    process.exitCode = await auditVerifyCommand(storeArgument(store, opts), opts);
  });
audit
  .command('rotate-key')
  .description(
    'start a new audit key; the old one is kept and a chained hand-over record lets older rows verify',
  )
  .argument('[store]', 'the store (as --store)')
  .option('--store <url|path>', storeHelp('database'))
  .action(async (store: string | undefined, opts: { store?: string }) => {
    const { auditRotateKeyCommand, storeArgument } = await import('./store-commands.js');
    process.exitCode = await auditRotateKeyCommand(storeArgument(store, opts));
  });

program
  .command('prune')
  .description('delete ended sessions older than a duration (the audit chain is re-anchored)')
  .requiredOption('--older-than <duration>', 'e.g. 30d', durationFlag('--older-than'))
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .action(async (opts: { db: string; olderThan: string }) => {
    process.exitCode = await (await import('./store-commands.js')).pruneCommand(opts);
  });

program
  .command('export')
  .description('write recorded sessions as bundles (JSON lines; gzipped for .gz)')
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .option('--session <id>', 'one session')
  .option('--since <time>', 'ISO time or a duration ago (24h)', sinceFlag('--since'))
  .option('--out <file>', 'file instead of stdout')
  .option('--progress', 'draw progress on stderr even when it is not a terminal')
  .action(
    async (opts: { db: string; session?: string; since?: string; out?: string; progress?: boolean }) => {
      process.exitCode = await (await import('./store-commands.js')).exportCommand(opts);
    },
  );

program
  .command('import')
  .description('load bundles into the database (run through the monitor and recorded)')
  .argument('<file>', 'bundle file')
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .option('--rules <dir>', 'site rule directory (repeatable)', collect, [])
  .option('--no-pack', 'only the built-in intent policy')
  .option('--progress', 'draw progress on stderr even when it is not a terminal')
  .action(async (file: string, opts: { db: string; rules: string[]; pack: boolean; progress?: boolean }) => {
    const [{ importCommand }, { replayPolicies }] = await Promise.all([
      import('./store-commands.js'),
      import('../replay/policies.js'),
    ]);
    process.exitCode = await importCommand(file, {
      db: opts.db,
      policies: replayPolicies(opts),
      ...(opts.progress && { progress: true }),
    });
  });

addProxyOptions(
  program
    .command('stdio')
    .description(
      'run an MCP server over stdio behind intentguard: intentguard stdio [options] -- <command> [args...]',
    )
    .argument('<command...>', 'the server command and its arguments (after --)'),
).action(async (command: string[], flags: ProxyFlags) => {
  pipes.keepRunning();
  const code = await (await import('./proxy-commands.js')).stdioCommand(command, flags);
  process.exit(code);
});

addListenOptions(
  addProxyOptions(
    program
      .command('http')
      .description(
        'a Streamable HTTP (or legacy HTTP+SSE) reverse proxy in front of an MCP server: --upstream URL, or -- <command> [args...] for a stdio server',
      )
      .argument(
        '[command...]',
        'a stdio server to front instead of --upstream (after --); each session gets its own process',
      )
      .requiredOption('--listen <host:port>', 'where to listen, e.g. 127.0.0.1:8080')
      .option('--upstream <url>', 'the MCP server URL')
      .addOption(
        new Option(
          '--upstream-transport <kind>',
          'streamable, or sse for a legacy HTTP+SSE server (default: sse when the URL ends in /sse)',
        ).choices(['streamable', 'sse']),
      )
      .option('--path <path>', 'the endpoint path clients use (default /mcp; /sse for a legacy upstream)')
      .option('--messages-path <path>', 'where legacy SSE clients POST messages', '/messages')
      .option('--resource <url>', "intentguard's public resource identifier (RFC 9728)")
      .option(
        '--upstream-header <header>',
        'header sent upstream, e.g. "Authorization: Bearer X" (repeatable)',
        collect,
        [],
      )
      .option(
        '--max-sessions <n>',
        'most sessions open at once; more get 503 (default 1024; 32 in front of a stdio server, a process each)',
      )
      .option(
        '--session-idle-timeout <duration>',
        'close a session whose client sent nothing this long and waits for nothing (default 30m)',
        durationFlag('--session-idle-timeout'),
      ),
  ),
).action(async (command: string[], opts: Parameters<typeof httpCommand>[0]) => {
  process.exitCode = await (await import('./proxy-commands.js')).httpCommand(opts, command);
});

addListenOptions(
  addProxyOptions(
    program
      .command('ws')
      .description('a WebSocket proxy (subprotocol mcp) in front of an MCP server')
      .requiredOption('--listen <host:port>', 'where to listen')
      .requiredOption('--upstream <url>', 'the upstream ws:// URL')
      .option('--max-sessions <n>', 'most connections open at once; more get 503 (default 1024)'),
  ),
).action(async (opts: Parameters<typeof wsCommand>[0]) => {
  process.exitCode = await (await import('./proxy-commands.js')).wsCommand(opts);
});

program
  .command('intent')
  .description('intents: learn one from recorded sessions')
  .command('suggest')
  .description(
    'propose an intent YAML from recorded sessions (learn mode): tools, path prefixes, hosts, recipients, budget, sensitivity; flagged calls left out',
  )
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .option('--sub <agent>', "only this agent identity's sessions")
  .option('--session <id>', 'only this session')
  .option(
    '--since <time>',
    'sessions started after an ISO time or a duration ago (24h)',
    sinceFlag('--since'),
  )
  .action(async (opts: { db: string; sub?: string; session?: string; since?: string }) => {
    process.exitCode = await (await import('./intent-commands.js')).intentSuggestCommand(opts);
  });

for (const verb of ['wrap', 'unwrap'] as const) {
  program
    .command(verb)
    .description(
      verb === 'wrap'
        ? "run every stdio server of a desktop client's MCP configuration through intentguard stdio in learn mode (a backup is kept; wrapping twice changes nothing)"
        : 'give every wrapped server of a desktop client configuration its original entry back',
    )
    .option(
      '--client <client>',
      'claude, cursor, vscode or all',
      choiceFlag('--client', ['claude', 'cursor', 'vscode', 'all'] as const),
      'all',
    )
    .option('--config <file>', "the configuration file (default: the client's own)")
    .option('--dry-run', 'say what would change, change nothing')
    .action(
      async (opts: { client: 'claude' | 'cursor' | 'vscode' | 'all'; config?: string; dryRun?: boolean }) => {
        const { wrapCommand, unwrapCommand } = await import('./wrap.js');
        process.exitCode = (verb === 'wrap' ? wrapCommand : unwrapCommand)({
          client: opts.client,
          ...(opts.config !== undefined && { config: opts.config }),
          ...(opts.dryRun && { dryRun: true }),
        });
      },
    );
}

const keys = program.command('keys').description('signing keys for grants');
keys
  .command('generate')
  .description('generate a key pair: private JWK (for minting), public JWKS and PEM (for intentguard)')
  .option('--out <dir>', 'where to write', './keys')
  .option('--alg <alg>', 'ES256, ES384, EdDSA, RS256, PS256', 'ES256')
  .option('--force', 'replace an existing private key (grants signed with it stop verifying)')
  .action(async (opts: { out: string; alg: string; force?: boolean }) => {
    process.exitCode = await (await import('./identity-commands.js')).keysGenerateCommand(opts);
  });

const grant = program.command('grant').description('intent grants (signed JWTs)');
grant
  .command('mint')
  .description('mint a grant binding an agent identity to an intent (development and tests)')
  .requiredOption('--intent <file>', 'intent YAML or JSON')
  .requiredOption('--sub <sub>', 'agent identity, e.g. agent:summariser')
  .option('--ttl <duration>', 'lifetime, with a unit (10m)', durationFlag('--ttl'), '10m')
  .option('--key <file>', 'private JWK', './keys/private.jwk.json')
  .option('--iss <iss>', 'issuer', 'https://intentguard.local/issuer')
  .option('--aud <aud>', "intentguard's resource identifier", 'https://intentguard.local/mcp')
  .option('--act <user>', 'the user the agent acts for')
  .action(async (opts: Parameters<typeof grantMintCommand>[0]) => {
    process.exitCode = await (await import('./identity-commands.js')).grantMintCommand(opts);
  });
grant
  .command('inspect')
  .description('decode a grant and verify it, or say exactly why it does not verify')
  .argument('<token>', 'the JWT')
  .option('--jwks <file>', 'JWKS file')
  .option('--jwks-url <url>', 'JWKS URL')
  .option('--pem <file>', 'PEM public key')
  .option('--alg <alg>', 'algorithm of the PEM key', 'ES256')
  .option('--iss <iss>', "trusted issuer (repeatable; default: the token's own)", collect, [])
  .option('--aud <aud>', "expected audience (default: the token's own)")
  .option('--max-ttl <duration>', 'longest accepted lifetime, with a unit', durationFlag('--max-ttl'), '15m')
  .option('--store <url|path>', storeHelp('check revocations in this database', false))
  .option('--db <path>', 'the older name of --store')
  .action(async (token: string, opts: Parameters<typeof grantInspectCommand>[1]) => {
    process.exitCode = await (await import('./identity-commands.js')).grantInspectCommand(token, opts);
  });

program
  .command('revoke')
  .description('revoke a grant (jti) or an agent identity (sub): new sessions presenting it are refused')
  .argument('<jti-or-sub>', 'a jti, or a sub such as agent:x')
  .option('--sub', 'treat the argument as a sub')
  .option('--reason <text>', 'why', 'revoked by operator')
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .action(async (target: string, opts: { db: string; sub?: boolean; reason: string }) => {
    process.exitCode = await (await import('./identity-commands.js')).revokeCommand(target, opts);
  });

program
  .command('unrevoke')
  .description(
    'lift the revocation of a grant (jti) or an agent identity (sub): new sessions presenting it are admitted',
  )
  .argument('<jti-or-sub>', 'a jti, or a sub such as agent:x')
  .option('--sub', 'treat the argument as a sub')
  .option('--reason <text>', 'why', 'lifted by operator')
  .option('--store <url|path>', storeHelp('database'))
  .option('--db <path>', 'the older name of --store')
  .action(async (target: string, opts: { db: string; sub?: boolean; reason: string }) => {
    process.exitCode = await (await import('./identity-commands.js')).unrevokeCommand(target, opts);
  });

program
  .command('task')
  .description('one-task grants (intent task: once)')
  .command('done')
  .description(
    'mark the task of a grant done: the grant (jti) is revoked; an open session presenting it is halted at its next request',
  )
  .argument('<jti>', 'the grant id')
  .option('--store <url|path>', storeHelp('database the running intentguard records to'))
  .option('--db <path>', 'the older name of --store')
  .action(async (jti: string, opts: { db: string }) => {
    process.exitCode = await (await import('./identity-commands.js')).taskDone(jti, opts);
  });

program
  .command('approvals')
  .description(
    'list approvals: held calls waiting for intentguard approve|deny (id, session, agent, tool, why, expiry)',
  )
  .option('--store <url|path>', storeHelp('database the running intentguard records to'))
  .option('--db <path>', 'the older name of --store')
  .option(
    '--state <state>',
    'pending (waiting for an answer) or all',
    choiceFlag('--state', ['pending', 'all'] as const),
    'pending',
  )
  .option('--json', 'one JSON object per approval')
  .action(async (opts: { db: string; state: 'pending' | 'all'; json?: boolean }) => {
    process.exitCode = await (await import('./approvals-command.js')).approvalsCommand(opts);
  });

for (const verb of ['approve', 'deny'] as const) {
  program
    .command(verb)
    .description(`${verb} a held call (re-authorization) waiting in a running intentguard`)
    .argument('<id>', 'approval id (from the alert or intentguard sessions)')
    .option('--store <url|path>', storeHelp('database the running intentguard records to'))
    .option('--db <path>', 'the older name of --store')
    .option('--by <name>', 'who decides (recorded)', process.env.USER ?? 'cli')
    .option(
      '--scope <scope>',
      verb === 'approve'
        ? 'once (this call), session (the tool for the rest of the session) or intent (widen the intent with the tool: a new intent version)'
        : 'once or session',
      verb === 'approve'
        ? choiceFlag('--scope', ['once', 'session', 'intent'] as const)
        : choiceFlag('--scope', ['once', 'session'] as const, ' (only an approval widens the intent)'),
      'once',
    )
    .action(async (id: string, opts: { db: string; by: string; scope: 'once' | 'session' | 'intent' }) => {
      const said = (r: { tool: string; session: string }) =>
        process.stdout.write(
          `${verb === 'approve' ? 'approved' : 'denied'} ${id} (${r.tool} in session ${r.session}) as ${opts.by}\n`,
        );
      if (isPostgresUrl(opts.db)) {
        const { decideInFleet } = await import('../fleet/approvals.js');
        said(await decideInFleet(opts.db, id, verb === 'approve', opts.by, opts.scope));
        return;
      }
      const [{ decideInDatabase }, { openStore }] = await Promise.all([
        import('../approvals/approvals.js'),
        import('../store/db.js'),
      ]);
      const store = openStore(opts.db, { mustExist: true });
      try {
        const r = decideInDatabase(store, id, verb === 'approve', opts.by, opts.scope);
        process.stdout.write(
          `${verb === 'approve' ? 'approved' : 'denied'} ${id} (${r.tool} in session ${r.session}) as ${opts.by}\n`,
        );
      } finally {
        store.close();
      }
    });
}

reportUnhandled();
let finished = false;
// A command whose work waits on something that can no longer happen would otherwise end the process
// quietly, with status 0 and its output missing: it is reported, and the status says it failed.
process.once('beforeExit', () => {
  if (finished) return;
  process.stderr.write(failureText(new IntentGuardError('ERR_UNFINISHED')));
  process.exitCode = 1;
});
program
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    process.stderr.write(failureText(e));
    process.exitCode = exitStatus(e);
  })
  .finally(() => {
    finished = true;
  });
