import { readFileSync } from 'node:fs';

/** The installed package's version (package.json two levels up from src/cli/ or dist/cli/). */
export function packageVersion(): string {
  return (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
}
