// The folder → folder import graph of src/, and the layer order it must keep. Used by
// test/architecture.test.ts (which fails on an import running back up or a cycle) and by
// scripts/gen-docs.ts (which draws the graph into README's Architecture section).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/**
 * The layers, lowest first. A folder may import its own layer's peers only as the graph allows (no
 * cycle) and any lower layer; never a higher one. A top-level file (`errors.ts`, `index.ts`) is its own
 * "folder" named after the file.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors'],
  ['lib'],
  ['model'],
  ['jsonrpc', 'events', 'era'],
  ['intent', 'analyze'],
  ['policy', 'visibility'],
  ['rules'],
  ['monitor'],
  ['store', 'mrtr'],
  ['alerts', 'approvals', 'identity'],
  ['replay', 'learn', 'console', 'fleet'],
  ['carrier'],
  ['observe'],
  ['transports', 'stateless'],
  ['app'],
  ['cli', 'index'],
];

/** One folder's job, one line each, for README. */
export const JOBS: Readonly<Record<string, string>> = {
  errors: 'the one error class and the table of stable codes',
  lib: 'small generic helpers with no domain knowledge (maps, durations, workers, listening)',
  model: 'the shared vocabulary: events, intents, findings, verdicts, decisions, alerts, session state',
  jsonrpc: 'JSON-RPC message guards and the one error-response builder',
  events: 'classify and check one JSON-RPC message; sizes and method names',
  era: 'MCP protocol revisions per request: era, _meta fields, headers against the body, trace context',
  mrtr: 'MCP 2026-07-28 approvals over multi round-trip requests: signed single-use requestState, the era gate',
  stateless: 'the 2026-07-28 stateless HTTP path: requests admitted by their grant, one POST upstream each',
  intent: 'parse intents; match arguments, paths and resources against them',
  analyze: 'content analysis: decoding, categories, URLs, injection and steering signals, provenance',
  policy: 'the built-in intent policy and how policies combine',
  visibility: 'which tools a session is offered (`visibility: approved`)',
  identity: 'signed grants, keys, revocations, the grant gate',
  rules: 'the rule language: load, compile, evaluate (CEL), shipped pack',
  monitor: 'streams and the per-session reducer: events in, decisions out',
  store: 'recording (SQLite, or PostgreSQL for a fleet), the audit chain, sealing, rotation, queries',
  fleet: 'many instances on one PostgreSQL: revocations over NOTIFY, approvals and requestState decided once',
  alerts: 'alert sinks: JSONL, webhook, WebSocket stream, OCSF',
  approvals: 'reauthorization: pending approvals and their channels',
  learn: 'suggest an intent from recorded sessions',
  console: 'the security console: pages, /api/, logins and roles, live updates, grant requests',
  replay: 'replay recorded bundles through a monitor; rule fixtures',
  carrier: 'one session on one wire: admit, ordered queues, prompts, halt, back-pressure',
  observe: 'metrics, health endpoints and traces fed from the monitor, recorder and approvals',
  transports: 'I/O adapters onto the carrier: SDK tap, stdio, WebSocket, HTTP',
  app: 'the composition root: config → runtime (store, alerts, approvals, grants, rules)',
  cli: 'the intentguard command line',
  index: 'the public API',
};

/** One import statement from one file of src/ to another. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

const layerOf = new Map<string, number>();
LAYERS.forEach((names, i) => names.forEach((n) => layerOf.set(n, i)));

/** The layer index of a folder, or undefined for a folder that has no place yet. */
export function layerIndex(folder: string): number | undefined {
  return layerOf.get(folder);
}

/** `src/monitor/state.ts` → `monitor`; `src/errors.ts` → `errors`. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/**
 * Every relative import in `src/` (static, type-only, re-export and dynamic `import('…')`), as paths
 * relative to `root` with `/` separators.
 */
export function readImports(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const abs of walk(join(root, 'src')).sort()) {
    const from = relative(root, abs).split(sep).join('/');
    const info = ts.preProcessFile(readFileSync(abs, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = resolve(dirname(abs), ref.fileName).replace(/\.js$/, '.ts');
      edges.push({ from, to: relative(root, target).split(sep).join('/') });
    }
  }
  return edges;
}

/** Folder → set of folders it imports (self-imports left out). */
export function folderGraph(edges: readonly ImportEdge[]): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (!g.has(a)) g.set(a, new Set());
    if (!g.has(b)) g.set(b, new Set());
    if (a !== b) g.get(a)!.add(b);
  }
  return g;
}

/** Strongly connected components with more than one member (Tarjan), each sorted, as cycles. */
export function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** File → set of files it imports, inside one folder (for cycles between files). */
export function fileGraph(edges: readonly ImportEdge[]): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (!g.has(from)) g.set(from, new Set());
    if (!g.has(to)) g.set(to, new Set());
    if (from !== to) g.get(from)!.add(to);
  }
  return g;
}

/** Imports from a folder to a folder of a higher layer, or to/from a folder with no layer. */
export function upwardImports(edges: readonly ImportEdge[]): string[] {
  const bad = new Set<string>();
  for (const { from, to } of edges) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === b) continue;
    const la = layerIndex(a);
    const lb = layerIndex(b);
    if (la === undefined) bad.add(`${from}: folder ${a} has no layer`);
    else if (lb === undefined) bad.add(`${from} -> ${to}: folder ${b} has no layer`);
    else if (lb > la) bad.add(`${from} -> ${to} (${a} is below ${b})`);
  }
  return [...bad].sort();
}

/**
 * README's folder table: one row per folder of src/, lowest layer first, with the folders it imports
 * and its job. `npm run docs` writes it; test/architecture.test.ts checks README holds it.
 */
export function renderLayers(edges: readonly ImportEdge[]): string {
  const graph = folderGraph(edges);
  const rows = [...graph.keys()]
    .filter((f) => layerIndex(f) !== undefined)
    .sort((a, b) => layerIndex(a)! - layerIndex(b)! || a.localeCompare(b))
    .map((f) => {
      const to = [...graph.get(f)!].sort((a, b) => layerIndex(a)! - layerIndex(b)! || a.localeCompare(b));
      const name = f === 'errors' || f === 'index' ? `src/${f}.ts` : `src/${f}/`;
      return `| ${layerIndex(f)} | \`${name}\` | ${to.map((t) => `\`${t}\``).join(' ') || '—'} | ${JOBS[f] ?? ''} |\n`;
    });
  return `| layer | folder | imports | job |\n|---|---|---|---|\n${rows.join('')}`;
}
