#!/usr/bin/env node
// Launcher. An installed package (no .git beside it) always runs the compiled CLI in dist/: the file
// times of an unpacked tarball say nothing about which is newer (npm extracts src/ after dist/).
// A git checkout (a developer's) runs dist/ when it is not older than the sources, the TypeScript
// sources through tsx otherwise; INTENTGUARD_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = `${root}dist/cli/main.js`;
const newestSource = () => {
  let newest = 0;
  for (const f of readdirSync(`${root}src`, { recursive: true })) {
    if (String(f).endsWith('.ts')) newest = Math.max(newest, statSync(`${root}src/${f}`).mtimeMs);
  }
  return newest;
};
const useBuilt = () => {
  if (process.env.INTENTGUARD_FROM_SOURCE !== undefined || !existsSync(built)) return false;
  if (!existsSync(`${root}.git`)) return true;
  try {
    return statSync(built).mtimeMs >= newestSource();
  } catch {
    return false;
  }
};
if (useBuilt()) {
  await import(built);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
