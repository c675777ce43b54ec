import { IntentGuardError } from '../errors.js';
import { parseStoreLocation } from '../store/location.js';
import { DEFAULT_DB } from '../store/paths.js';

/**
 * The store location of a command: `--store URL|PATH` (`--db` is its older name), else
 * `INTENTGUARD_STORE`, else `fallback`. Both flags with different values is an error, never a silent
 * pick; the location is parsed at once (a mistyped URL is `ERR_STORE_URL`, not a SQLite file named
 * after it). Returns undefined when nothing names a store and the fallback is null (no default store).
 * @example chooseStore({ store: 'postgres://ig@db/intentguard' }) // 'postgres://ig@db/intentguard'
 */
export function chooseStore(
  flags: { store?: string | undefined; db?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
  fallback: string | null = DEFAULT_DB,
): string | undefined {
  if (flags.store !== undefined && flags.db !== undefined && flags.store !== flags.db)
    throw new IntentGuardError(
      'ERR_CONFIG',
      `--store and --db name different stores (${flags.store}, ${flags.db}): give one (--db is the older name of --store)`,
    );
  const chosen = flags.store ?? flags.db ?? env.INTENTGUARD_STORE ?? fallback;
  if (chosen === null) return undefined;
  const where =
    flags.store !== undefined
      ? '--store'
      : flags.db !== undefined
        ? '--db'
        : env.INTENTGUARD_STORE !== undefined
          ? 'INTENTGUARD_STORE'
          : 'the default store';
  parseStoreLocation(chosen, where);
  return chosen;
}
