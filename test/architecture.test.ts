// The layout of src/ keeps its layers: every import runs down (or sideways within a layer), no folders
// import each other in a loop, and no files do. The layer order is written once, in
// scripts/import-graph.ts; README's Architecture section draws the same graph (npm run docs).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  cycles,
  fileGraph,
  folderGraph,
  folderOf,
  layerIndex,
  readImports,
  upwardImports,
} from '../scripts/import-graph.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const edges = readImports(root);

describe('architecture', () => {
  it('reads the imports of every file in src/', () => {
    const files = new Set(edges.map((e) => e.from));
    assert.ok(files.has('src/index.ts') && files.has('src/monitor/state.ts') && files.size > 80);
  });

  it('gives every folder of src/ a layer', () => {
    const folders = readdirSync(new URL('../src', import.meta.url), { withFileTypes: true }).map((e) =>
      folderOf(`src/${e.name}${e.isDirectory() ? '/x.ts' : ''}`),
    );
    assert.deepEqual(
      folders.filter((f) => layerIndex(f) === undefined),
      [],
    );
  });

  it('has no import running back up a layer', () => {
    assert.deepEqual(upwardImports(edges), []);
  });

  it('has no cycle between folders', () => {
    assert.deepEqual(cycles(folderGraph(edges)), []);
  });

  it('has no cycle between files', () => {
    assert.deepEqual(cycles(fileGraph(edges)), []);
  });

  it('model/ imports nothing but lib/ and itself', () => {
    const out = edges.filter((e) => folderOf(e.from) === 'model' && !/^(model|lib)$/.test(folderOf(e.to)));
    assert.deepEqual(out, []);
  });

  it('finds a cycle and an upward import when there is one (the checker can fail)', () => {
    const probe = [
      { from: 'src/model/a.ts', to: 'src/monitor/b.ts' },
      { from: 'src/monitor/b.ts', to: 'src/model/a.ts' },
    ];
    assert.deepEqual(cycles(folderGraph(probe)), [['model', 'monitor']]);
    assert.deepEqual(cycles(fileGraph(probe)), [['src/model/a.ts', 'src/monitor/b.ts']]);
    assert.deepEqual(upwardImports(probe), ['src/model/a.ts -> src/monitor/b.ts (model is below monitor)']);
  });
});
