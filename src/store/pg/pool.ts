import pg from 'pg';
import { IntentGuardError } from '../../errors.js';
import { parseStoreLocation, redact } from '../location.js';

/** A PostgreSQL store's connection pool, with the URL it was opened for (password removed). */
export interface PgPool {
  readonly pool: pg.Pool;
  /** The URL without its password. */
  readonly display: string;
  /** The URL as given, with its password: for another connection of this process (LISTEN), never printed. */
  readonly url: string;
  /** Run `work` in one transaction on one connection (BEGIN … COMMIT, ROLLBACK on error). */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PgPoolOptions {
  /** Most connections this process opens (default 4; at most 64: a fleet shares the server's max_connections). */
  readonly max?: number;
  /** Give up on a connection attempt after this long (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** Check the server answers before returning (default true). */
  readonly check?: boolean;
}

const MAX_POOL = 64;

// BIGINT (int8) columns hold times in ms and counts: numbers, well inside 2^53 (the default is strings).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * Open a bounded pool for a `postgres://` URL and check the server answers: a refusal is a coded
 * error (`ERR_STORE_UNREACHABLE`, `ERR_STORE_AUTH`, `ERR_STORE_NOT_FOUND`, `ERR_STORE_URL`), never a
 * hang or a raw driver message. Errors of idle connections (the server restarting) are absorbed: the
 * next query reconnects, or fails with its own coded error.
 * @example const p = await openPool('postgres://ig@127.0.0.1/intentguard'); await p.close()
 */
export async function openPool(url: string, options: PgPoolOptions = {}): Promise<PgPool> {
  const where = parseStoreLocation(url);
  if (where.kind !== 'postgres')
    throw new IntentGuardError('ERR_STORE_URL', `not a PostgreSQL URL: ${redact(url)}`);
  const max = options.max ?? 4;
  if (!Number.isInteger(max) || max < 1 || max > MAX_POOL)
    throw new IntentGuardError('ERR_CONFIG', `the store pool size must be 1 to ${MAX_POOL}, got ${max}`);
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 10_000,
    application_name: 'intentguard',
  });
  // An idle client's error (server stopped) must not crash the process: the pool drops that client.
  pool.on('error', () => undefined);
  const display = where.display;
  const p: PgPool = {
    pool,
    display,
    url,
    async transaction(work) {
      const client = await pool.connect().catch((e: unknown) => {
        throw pgError(e, display);
      });
      let broken = false;
      // A connection lost while checked out is emitted as 'error' on the client, which the pool only
      // listens for on idle clients: unheard, it is an uncaught exception that ends the process. The
      // failure also rejects the query in flight, which is what the caller handles.
      const lost = (): void => {
        broken = true;
      };
      client.on('error', lost);
      try {
        await client.query('BEGIN');
        const out = await work(client);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw pgError(e, display);
      } finally {
        client.off('error', lost);
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
  if (options.check !== false) {
    try {
      await pool.query('SELECT 1');
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw pgError(e, display);
    }
  }
  return p;
}

/** Turn a PostgreSQL or connection failure into a clear, coded error naming the store (without its password). */
export function pgError(e: unknown, display: string): IntentGuardError {
  if (e instanceof IntentGuardError) return e;
  const code = String((e as { code?: unknown })?.code ?? '');
  const message = (e as Error)?.message ?? String(e);
  const data = { pg: code };
  if (code === '28P01' || code === '28000')
    return new IntentGuardError('ERR_STORE_AUTH', `${display}: login refused (${message})`, data);
  if (code === '3D000') return new IntentGuardError('ERR_STORE_NOT_FOUND', `${display}: ${message}`, data);
  if (code === '53100')
    return new IntentGuardError('ERR_STORE_FULL', `${display}: disk full (${message})`, data);
  if (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'EPIPE'].includes(
      code,
    ) ||
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    // Too many clients, or a database closed to connections (ALLOW_CONNECTIONS false): the store is
    // there but cannot be written now — transient, retried, not a bad request.
    code === '53300' ||
    (code === '55000' && /not currently accepting connections/i.test(message)) ||
    /timeout|terminated|Connection terminated|not queryable|ended/i.test(message)
  )
    return new IntentGuardError(
      'ERR_STORE_UNREACHABLE',
      `${display}: cannot reach the store (${message})`,
      data,
    );
  return new IntentGuardError('ERR_STORE', `${display}: ${message}`, data);
}
