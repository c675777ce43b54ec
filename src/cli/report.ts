import { printable } from '../lib/printable.js';

/** Node's file-system errors, under intentguard's own stable code. */
const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EEXIST: 'already exists',
};

/**
 * The one line the CLI prints for a failure: `CODE: message`, with Node's file-system errors as
 * `ERR_FILE` naming the path. Messages may quote input (a YAML excerpt, a claim): each line is shown
 * escaped, the line breaks kept.
 */
export function failureText(e: unknown, verb = 'read'): string {
  const err = e as { code?: string; message?: string; path?: string };
  const fsReason = err.code ? FS_REASONS[err.code] : undefined;
  const line = fsReason
    ? `ERR_FILE: cannot ${verb} ${err.path ?? 'a file or directory'}: ${fsReason}`
    : `${err.code && !err.message?.includes(err.code) ? `${err.code}: ` : ''}${err.message ?? String(e)}`;
  return `intentguard: ${line.split('\n').map(printable).join('\n')}\n`;
}

/** Exit status: 1 for a runtime failure (a listener that cannot start, an error while running), 2 for bad input. */
export const exitStatus = (e: unknown, running = false): number =>
  running || (e as { code?: string }).code === 'ERR_LISTEN' ? 1 : 2;

/**
 * The last resort: an error nothing handled (a stream's `error` event, a rejected promise) is
 * reported as one line and ends the process with status 1, never as Node's stack trace
 * (`INTENTGUARD_DEBUG=1` prints the stack too).
 */
export function reportUnhandled(): void {
  const fail = (e: unknown) => {
    // Unhandled file errors come from streams a command opened (an --out file, a bundle): "open".
    process.stderr.write(failureText(e, 'open'));
    if (process.env.INTENTGUARD_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    process.exit(exitStatus(e, true));
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}
