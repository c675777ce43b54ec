// Loaded into every test file's process (npm test: --import). A file must end on its own once its
// tests are done: the runner's --test-force-exit is not used, because on Node 20 it can drop a file's
// last results and still report green (nodejs/node#64833). A file still alive WATCH_MS after its last
// test has leaked a handle (a socket, a timer, a child, a thread): it is failed loudly, naming what
// keeps it alive, instead of hanging the run.
import { after } from 'node:test';

const WATCH_MS = Number(process.env.INTENTGUARD_TEST_EXIT_WATCH_MS ?? 30_000);

// Only in a file's own process (the runner's parent process runs no tests of its own).
if (process.env.NODE_TEST_CONTEXT) {
  after(() => {
    const timer = setTimeout(() => {
      const alive = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      process.stderr.write(
        `test file still running ${WATCH_MS} ms after its last test, kept alive by: ${alive.join(', ')}\n`,
      );
      process.exit(1);
    }, WATCH_MS);
    timer.unref();
  });
}
