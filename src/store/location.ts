import { IntentGuardError } from '../errors.js';

/** Where records live: an embedded SQLite file (the default), or a PostgreSQL database shared by a fleet. */
export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'postgres';
      /** The URL as given (with its password: hand it to the pool, never print it). */
      readonly url: string;
      /** The URL without its password, for messages and logs. */
      readonly display: string;
      readonly host: string;
      readonly port: number;
      readonly database: string;
    };

const PG_SCHEMES = ['postgres:', 'postgresql:'];

/** True when a location names PostgreSQL (`postgres://` or `postgresql://`, any case). */
export const isPostgresUrl = (text: string): boolean =>
  PG_SCHEMES.some((s) => text.slice(0, s.length + 2).toLowerCase() === `${s}//`);

/**
 * Parse a store location: a `postgres://` or `postgresql://` URL selects PostgreSQL, anything else is
 * the SQLite file's path. A PostgreSQL URL must parse and name a host and a database (`ERR_STORE_URL`
 * otherwise: a typo must not fall back to a SQLite file named after the URL).
 * @example parseStoreLocation('postgres://ig@db.internal:5432/intentguard').kind // 'postgres'
 */
export function parseStoreLocation(text: string, where = '--store'): StoreLocation {
  if (typeof text !== 'string' || text.trim() === '')
    throw new IntentGuardError('ERR_STORE_URL', `${where} is empty: give a SQLite path or a postgres:// URL`);
  if (!isPostgresUrl(text)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
      throw new IntentGuardError(
        'ERR_STORE_URL',
        `${where}: unsupported store URL scheme in "${redact(text)}" (postgres:// or postgresql://, or a SQLite file path)`,
      );
    return { kind: 'sqlite', path: text };
  }
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new IntentGuardError('ERR_STORE_URL', `${where}: not a valid PostgreSQL URL: "${redact(text)}"`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname)
    throw new IntentGuardError(
      'ERR_STORE_URL',
      `${where}: the PostgreSQL URL names no host: "${redact(text)}"`,
    );
  if (!database || database.includes('/'))
    throw new IntentGuardError(
      'ERR_STORE_URL',
      `${where}: the PostgreSQL URL must name one database (postgres://user@host:5432/intentguard): "${redact(text)}"`,
    );
  const port = u.port ? Number(u.port) : 5432;
  return { kind: 'postgres', url: text, display: redact(text), host: u.hostname, port, database };
}

/** A URL with its password replaced by `***` (for messages). */
export function redact(text: string): string {
  try {
    const u = new URL(text);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not parseable: drop anything between "://" and "@", where a password would be.
    const at = text.lastIndexOf('@');
    const start = text.indexOf('://');
    return start >= 0 && at > start ? `${text.slice(0, start + 3)}***${text.slice(at)}` : text;
  }
}
