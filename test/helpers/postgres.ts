// A real, throwaway PostgreSQL for tests and benches: `initdb` into a temporary directory, `pg_ctl start` on
// a free 127.0.0.1 port, torn down (and the directory removed) by `stop()`. PostgreSQL refuses to run as
// root, so as root the server runs as `nobody` in a directory it owns. No mocks: the fleet store is tested
// against this server. `scripts/system-deps.sh` (run by `npm test`) installs the Debian package when missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running server: its admin connection string and how to create a database on it and stop it. */
export interface TempPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication, loopback only). */
  readonly url: string;
  readonly port: number;
  /** The temporary directory holding the cluster, its socket and its log (removed by `stop()`). */
  readonly dir: string;
  /** Create a fresh database and return its connection string. */
  createDatabase(name: string): string;
  /** Stop the server (immediate shutdown) and remove its directory. Idempotent. */
  stop(): void;
}

/** The directory holding `initdb` and `pg_ctl` (the highest installed major version). */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(
      'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/system-deps.sh as root',
    );
  return join(root, versions[0]!, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const NOBODY = { uid: 65534, gid: 65534 };

/** Start a throwaway server. Call `stop()` when done (an `after` hook); a crashed test leaves only a temp dir. */
export async function startPostgres(): Promise<TempPostgres> {
  const bin = postgresBin();
  const root = process.getuid?.() === 0;
  const as = root ? NOBODY : {};
  const dir = mkdtempSync(join(tmpdir(), 'ig-pg-'));
  if (root) chownSync(dir, NOBODY.uid, NOBODY.gid);
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const run = (cmd: string, args: string[]): void => {
    const r = spawnSync(join(bin, cmd), args, { ...as, cwd: dir, encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(`${cmd} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim()}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
  const port = await freePort();
  const conf = [
    `port = ${port}`,
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = '${dir}'`,
    // A test server: durability is not what is tested, speed of set-up is.
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'max_connections = 200',
    'shared_buffers = 32MB',
  ].join('\n');
  writeFileSync(join(data, 'postgresql.auto.conf'), conf + '\n');
  if (root) chownSync(join(data, 'postgresql.auto.conf'), NOBODY.uid, NOBODY.gid);
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  let stopped = false;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const psql = (sql: string): void => {
    execFileSync(
      join(bin, 'psql'),
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-qAt', '-c', sql],
      {
        ...as,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  };
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...as, cwd: dir });
    rmSync(dir, { recursive: true, force: true });
  };
  // A test runner that exits without calling stop() must not leave a server behind.
  process.once('exit', stop);
  return {
    url,
    port,
    dir,
    createDatabase(name: string): string {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      psql(`CREATE DATABASE ${name}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
