/**
 * A one-line progress bar on stderr when it is a terminal, or when asked for (`--progress`); silent
 * otherwise (pipes, CI). Never on stdout: the data a command prints stays clean.
 */
export function progress(
  total: number | undefined,
  label: string,
  options: { force?: boolean } = {},
): { tick(n?: number): void; done(): void } {
  const out = process.stderr;
  if (!out.isTTY && !options.force) return { tick() {}, done() {} };
  let count = 0;
  let last = 0;
  const started = Date.now();
  const draw = () => {
    const rate = Math.round(count / Math.max(0.001, (Date.now() - started) / 1000));
    const width = 30;
    const bar = total ? '█'.repeat(Math.round((count / total) * width)).padEnd(width, '░') : '';
    out.write(`\r${label} ${bar} ${count}${total ? `/${total}` : ''} (${rate}/s)`);
  };
  return {
    tick(n = 1) {
      count += n;
      const now = Date.now();
      if (now - last > 100) {
        last = now;
        draw();
      }
    },
    done() {
      draw();
      out.write('\n');
    },
  };
}
