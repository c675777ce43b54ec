// All benchmarks, one run: `npm run bench` (or `npm run bench -- tap|rules|proxy|stateless|detection|startup|fleet`). Each prints
// figures measured side by side in this run; nothing here asserts a time.
import { benchDetection } from './detection.js';
import { benchRules, benchShapes } from './rules.js';
import { benchStore } from './store.js';
import { benchProxy } from './proxy.js';
import { benchStateless } from './stateless.js';
import { benchTap } from './tap.js';
import { benchStartup } from './startup.js';
import { benchConsole } from './console.js';
import { benchFleet } from './fleet.js';

const only = process.argv[2];
if (!only || only === 'tap') await benchTap();
if (!only || only === 'rules') {
  benchRules();
  benchShapes();
}
if (!only || only === 'store') await benchStore();
if (!only || only === 'proxy') {
  await benchProxy();
  await benchStateless();
}
// The 2026-07-28 stateless rows alone (they are also part of `proxy`).
if (only === 'stateless') await benchStateless();
if (!only || only === 'detection') await benchDetection();
if (!only || only === 'startup') await benchStartup();
if (!only || only === 'console') await benchConsole();
// Starts a throwaway PostgreSQL (initdb + pg_ctl): only when asked for by name.
if (only === 'fleet') await benchFleet();
