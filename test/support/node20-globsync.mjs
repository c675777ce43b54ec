// --import hook: @modelcontextprotocol/conformance imports `globSync` from 'fs', which Node 22 added.
// On Node 20 we point its 'fs' imports at a shim that re-exports node:fs plus a picomatch-based globSync.
import { register } from 'node:module';
import fs from 'node:fs';

if (typeof fs.globSync !== 'function') register(new URL('./fs-shim-loader.mjs', import.meta.url));
