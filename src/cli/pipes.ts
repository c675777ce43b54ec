/**
 * What the CLI does when the reader of its output goes away (`intentguard show ID | head`): by
 * default it exits at once with status 0, quietly, as Unix filters do, instead of dying on an
 * unhandled `EPIPE` with a stack trace. `keepRunning()` is for the stdio proxy, whose stdout is the
 * MCP channel: there a closed pipe means the client left, and the proxy ends when its stdin ends
 * (sessions closed and recorded), not in the middle of a write.
 */
export function handleClosedPipes(
  streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr],
): { keepRunning(): void } {
  let exitOnEpipe = true;
  for (const stream of streams) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') {
        if (exitOnEpipe) process.exit(0);
        return;
      }
      // Output that cannot be written cannot report its own failure: the exit status says it.
      process.exit(1);
    });
  }
  return {
    keepRunning: () => {
      exitOnEpipe = false;
    },
  };
}
