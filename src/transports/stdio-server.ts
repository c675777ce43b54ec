import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { serverEnv } from '../carrier/server-env.js';

// The server process behind `intentguard stdio`. Small on purpose: the CLI starts it before it loads the
// monitor and the rules, so the server's own start overlaps intentguard's. Nothing is read from its
// stdout, nor from the client's stdin, until the session is attached (the pipes hold what was written):
// no message passes before the monitor decides it.

/** The server process: its exit code as ours (128 + signal number when killed; 127 when it cannot start). */
export interface ServerProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  readonly done: Promise<number>;
  readonly exited: boolean;
  /**
   * Stop a server that will carry no session (the runtime could not be built, the grant was refused):
   * its stdin closed, SIGTERM, SIGKILL after `graceMs`. Resolves when it has exited.
   */
  stop(graceMs?: number): Promise<number>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 };

export function startServer(o: {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}): ServerProcess {
  const child = spawn(o.command, [...o.args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: serverEnv(o.env ?? process.env),
  });
  let exited = false;
  const done = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      resolve(code ?? (signal ? 128 + (SIGNAL_NUMBERS[signal] ?? 1) : 1));
    });
    child.on('error', (e) => {
      o.log(`cannot start ${o.command}: ${e.message}`);
      exited = true;
      resolve(127);
    });
  });
  // A write racing the server's death fails with EPIPE: its exit is handled (pending calls answered) later.
  child.stdin.on('error', () => undefined);
  return {
    child,
    done,
    get exited() {
      return exited;
    },
    async stop(graceMs = 2000) {
      if (!exited) {
        child.stdin.end();
        child.kill('SIGTERM');
        const timer = setTimeout(() => exited || child.kill('SIGKILL'), graceMs);
        timer.unref();
        await done;
        clearTimeout(timer);
      }
      return done;
    },
  };
}
