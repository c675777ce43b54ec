import { IntentGuardError } from '../errors.js';
import { readPrivateJwk } from '../console/grants.js';
import { startConsole, type ConsoleServer } from '../console/server.js';
import { sqliteConsoleData, type ConsoleData } from '../console/data.js';
import { openStore } from '../store/db.js';
import { parseStoreLocation } from '../store/location.js';
import { splitListen } from './proxy-commands.js';

/** `intentguard console` flags. */
export interface ConsoleFlags {
  listen: string;
  db: string;
  token?: string;
  consoleJwks?: string;
  consoleIssuer?: string;
  consoleAudience?: string;
  allowedHosts?: string[];
  grantKey?: string;
  grantIssuer?: string;
  grantAudience?: string;
  grantTtl?: string;
}

/** Start the console from flags (and `INTENTGUARD_CONSOLE_TOKEN`); the caller closes it. */
export async function openConsole(
  flags: ConsoleFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConsoleServer> {
  const [host, port] = splitListen(flags.listen);
  const token = flags.token ?? env.INTENTGUARD_CONSOLE_TOKEN;
  if (!token && !flags.consoleJwks)
    throw new IntentGuardError(
      'ERR_CONFIG',
      'the console needs a way to log in: --token T (or INTENTGUARD_CONSOLE_TOKEN) and/or --console-jwks URL|FILE',
    );
  if (token !== undefined && token.length < 16)
    throw new IntentGuardError('ERR_CONFIG', 'the console token must be at least 16 characters');
  if (flags.grantKey && (!flags.grantIssuer || !flags.grantAudience))
    throw new IntentGuardError('ERR_CONFIG', '--grant-key needs --grant-issuer and --grant-audience');
  if (flags.grantKey && !flags.consoleJwks)
    throw new IntentGuardError(
      'ERR_CONFIG',
      '--grant-key needs --console-jwks (to verify who asks for a grant)',
    );
  const { data, close } = await consoleData(flags.db);
  try {
    const server = await startConsole({
      data,
      host,
      port,
      ...(token && { token }),
      ...(flags.consoleJwks && { jwks: flags.consoleJwks }),
      ...(flags.consoleIssuer && { issuer: flags.consoleIssuer }),
      ...(flags.consoleAudience && { audience: flags.consoleAudience }),
      ...(flags.allowedHosts && { allowedHosts: flags.allowedHosts }),
      ...(flags.grantKey && {
        grants: {
          privateJwk: readPrivateJwk(flags.grantKey),
          iss: flags.grantIssuer!,
          aud: flags.grantAudience!,
          ...(flags.grantTtl && { ttl: flags.grantTtl }),
        },
      }),
    });
    return {
      ...server,
      async close() {
        await server.close();
        await close();
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The store the console reads: a SQLite file (which must exist), or a fleet's PostgreSQL (`postgres://`:
 * every instance's sessions; decisions, revocations and grant requests through the fleet's tables).
 */
async function consoleData(location: string): Promise<{ data: ConsoleData; close(): Promise<void> }> {
  if (parseStoreLocation(location).kind !== 'postgres') {
    const store = openStore(location, { mustExist: true });
    return { data: sqliteConsoleData(store), close: async () => store.close() };
  }
  const [{ openPgStore }, { pgConsole }] = await Promise.all([
    import('../store/pg/store.js'),
    import('../app/pg-console.js'),
  ]);
  // The fleet's audit key must exist (INTENTGUARD_AUDIT_KEY): the console never makes one of its own.
  const store = await openPgStore(location, { readonly: true });
  try {
    const data = await pgConsole(store, location);
    return { data, close: () => store.close() };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** `intentguard console --listen HOST:PORT`: serve until SIGINT/SIGTERM. */
export async function consoleCommand(flags: ConsoleFlags): Promise<number> {
  const c = await openConsole(flags);
  const where = parseStoreLocation(flags.db);
  process.stderr.write(
    `intentguard console on ${c.url} (store ${where.kind === 'postgres' ? where.display : flags.db})\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await c.close();
  return 0;
}
