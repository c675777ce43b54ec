import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a path really leads on this host: the absolute form, and the symlink-free form. */
interface HostLocation {
  readonly absolute: string;
  readonly real: string;
}

/** Resolves a path a same-host server will open; see {@link localPathResolver}. */
export type PathResolver = (path: string) => HostLocation;

/**
 * For servers on this host (`intentguard stdio`, `http -- <command>`): resolve a path as the server
 * will, relative to `cwd` (the server's working directory), `~` to the home directory, `file:` URLs to
 * paths, and through symlinks: `fs.realpath` of the longest prefix that exists, with the rest appended.
 * A link inside an approved folder that points outside it resolves outside it.
 * @example localPathResolver('/srv')('project/link.md').real // '/srv/private/secret.env'
 */
export function localPathResolver(cwd: string = process.cwd()): PathResolver {
  return (path) => {
    let p = path;
    if (/^file:/i.test(p)) {
      try {
        p = fileURLToPath(p);
      } catch {
        // not a file URL a server would open: resolved as a path
      }
    }
    if (p === '~' || p.startsWith('~/')) p = join(homedir(), p.slice(1));
    const absolute = resolve(cwd, p);
    return { absolute, real: realOf(absolute) };
  };
}

/** realpath of the longest existing prefix; a dangling link is followed (it would be created through). */
function realOf(absolute: string): string {
  let head = absolute;
  let rest: string[] = [];
  for (let steps = 0; steps < 4096; steps++) {
    try {
      return join(realpathSync.native(head), ...rest);
    } catch {
      let link: string | undefined;
      try {
        if (lstatSync(head).isSymbolicLink()) link = readlinkSync(head);
      } catch {
        // does not exist: try its parent
      }
      if (link !== undefined) {
        head = resolve(dirname(head), link);
        continue;
      }
      const parent = dirname(head);
      if (parent === head) return join(head, ...rest);
      rest = [basename(head), ...rest];
      head = parent;
    }
  }
  return join(head, ...rest);
}
