// Regenerates the README's error-code, field and folder tables from the code (the docs and architecture
// tests check them).
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.js';
import { VOCABULARY } from '../src/rules/vocabulary.js';
import { readImports, renderLayers } from './import-graph.js';
let s = readFileSync('README.md', 'utf8');
const replace = (name: string, body: string) => {
  s = s.replace(
    new RegExp(`<!-- ${name}:start -->[\\s\\S]*?<!-- ${name}:end -->`),
    `<!-- ${name}:start -->\n${body}<!-- ${name}:end -->`,
  );
};
replace(
  'errors',
  `| code | meaning |\n|---|---|\n${Object.entries(ERROR_CODES)
    .map(([k, v]) => `| \`${k}\` | ${v} |\n`)
    .join('')}`,
);
replace(
  'fields',
  `| field | type | meaning |\n|---|---|---|\n${Object.entries(VOCABULARY)
    .map(([k, v]) => `| \`${k}\` | \`${v.type}\` | ${v.doc} |\n`)
    .join('')}`,
);
replace('layers', renderLayers(readImports('.')));
writeFileSync('README.md', s);
