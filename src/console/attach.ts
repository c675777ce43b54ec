import { IntentGuardError } from '../errors.js';
import type { Monitor } from '../monitor/create.js';
import type { Store } from '../store/db.js';
import type { ConsoleData } from './data.js';
import { startConsole } from './server.js';

/** `--console-port` on a proxy: the console on 127.0.0.1 beside the traffic, over the proxy's own store. */
export interface ConsoleAttachOptions {
  readonly port: number;
  /** Admin token (`INTENTGUARD_CONSOLE_TOKEN`). */
  readonly token?: string;
  /** Identity JWTs for logins (`INTENTGUARD_CONSOLE_JWKS`). */
  readonly jwks?: string;
}

/**
 * Start the console inside a proxy: held calls are decided through the store (the proxy's database
 * channel is on; on a fleet's PostgreSQL, `data` decides through the fleet's tables, whichever instance
 * holds the call), and halting a session from the page halts it here at once besides revoking its grant.
 */
export async function attachConsole(
  o: ConsoleAttachOptions,
  monitor: Monitor,
  log: (line: string) => void,
  store: Store | { readonly data: ConsoleData } | undefined,
): Promise<{ readonly url: string; close(): Promise<void> }> {
  if (!store)
    throw new IntentGuardError('ERR_CONFIG', '--console-port needs a recording database (not --no-record)');
  if (!o.token && !o.jwks)
    throw new IntentGuardError(
      'ERR_CONFIG',
      '--console-port needs INTENTGUARD_CONSOLE_TOKEN or INTENTGUARD_CONSOLE_JWKS',
    );
  const c = await startConsole({
    ...('data' in store ? { data: store.data } : { store }),
    port: o.port,
    ...(o.token && { token: o.token }),
    ...(o.jwks && { jwks: o.jwks }),
    halt: (id, reason) => void monitor.session(id)?.halt(reason),
  });
  log(`console on ${c.url}`);
  return c;
}
