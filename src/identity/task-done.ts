import { openStore } from '../store/db.js';
import { createRevocations } from './revocations.js';

/**
 * `intentguard task done JTI`: the task a grant was for is over. The grant is revoked in the database
 * the running intentguard uses: a new session presenting it is refused (`ERR_GRANT_REVOKED`), and an
 * open one is halted at its next request.
 * @example taskDoneCommand('7f0c…', { db: './intentguard.db' })
 */
export function taskDoneCommand(
  jti: string,
  opts: { db: string },
  out: NodeJS.WritableStream = process.stdout,
): number {
  const store = openStore(opts.db);
  try {
    createRevocations(store).revoke({ jti }, 'task done');
    out.write(`task done: grant ${jti} revoked in ${opts.db}\n`);
    return 0;
  } finally {
    store.close();
  }
}
