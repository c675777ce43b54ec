// All benchmarks, one run: `npm run bench`. Each prints ratios measured side by side.
import { benchTap } from './tap.js';

const only = process.argv[2];
if (!only || only === 'tap') await benchTap();
