#!/usr/bin/env node
// Launcher: the compiled CLI (dist/, built by `npm ci` through the prepare script) when it is present
// and not older than the sources; otherwise the TypeScript sources through tsx's loader.
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
const fresh = () => {
  try {
    return process.env.INTENTGUARD_FROM_SOURCE === undefined && statSync(built).mtimeMs >= newestSource();
  } catch {
    return false;
  }
};
if (existsSync(built) && fresh()) {
  await import(built);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
