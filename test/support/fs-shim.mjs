import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
export * from 'node:fs';
export default fs;
/** Minimal fs.globSync(pattern, { cwd }) for Node 20: relative paths of matching files. */
export function globSync(pattern, options = {}) {
  const cwd = options.cwd ?? process.cwd();
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  const match = picomatch(patterns, { dot: false });
  if (!fs.existsSync(cwd)) return [];
  return fs
    .readdirSync(cwd, { recursive: true })
    .map(String)
    .filter((p) => match(p.split(path.sep).join('/')));
}
