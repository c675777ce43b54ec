/**
 * Wait until a condition holds (polling), or fail after `ms`. For conditions, not timing assertions: the
 * deadline only ends a test that would otherwise wait forever, so it is far beyond what any condition
 * needs on a machine several times slower than usual (a CLI process starting at a load average of 20
 * took over 10 s, the old default, to answer its first message).
 */
export async function waitFor(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
