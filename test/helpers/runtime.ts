import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '../../src/app/runtime.js';
import type { RuntimeOptions } from '../../src/transports/runtime.js';

/** `yaml` written as `intent.yaml` in a new temporary directory: its path. */
export function writeIntent(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ig-intent-')), 'intent.yaml');
  writeFileSync(file, yaml);
  return file;
}

/**
 * A runtime enforcing the intent in `intentFile` with the shipped pack, no extra rules, no store and
 * no log, unless `extra` says otherwise.
 */
export function enforcingRuntime(intentFile: string, extra: Partial<RuntimeOptions> = {}) {
  return createRuntime({
    mode: 'enforce',
    db: false,
    pack: true,
    rules: [],
    intentFile,
    log: () => undefined,
    ...extra,
  });
}
