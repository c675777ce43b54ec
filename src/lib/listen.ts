import type { Server } from 'node:net';
import { IntentGuardError } from '../errors.js';

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name could not be resolved',
};

/**
 * Start listening, or fail with one `ERR_LISTEN` naming the address and why (a port in use, a name
 * that does not resolve): never Node's unhandled `error` event with its stack.
 * @example await listen(server, '127.0.0.1', 8080)
 */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      reject(
        new IntentGuardError(
          'ERR_LISTEN',
          `cannot listen on ${where}: ${REASONS[e.code ?? ''] ?? e.message}`,
          { address: where },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
