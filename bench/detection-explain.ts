// Why each benign session was interrupted: for every stopping finding, the rule, the call, the tool and
// what tools/list said about it, the approval's tools and purpose. `node --import tsx bench/detection-explain.ts [corpus]`
import { createMonitor, createReplayClock, readBundles, replayBundle } from '../src/index.js';
import { loadRulePack, packPolicies } from '../src/rules/pack.js';

/** A recorded message or tool entry, read field by field for printing only. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a diagnostic print of corpus JSON
type Loose = any;

const STOPPING = new Set(['reauthorize', 'deny', 'halt']);
const path = process.argv[2] ?? '../../shared/corpora/toolemu-dev.jsonl.gz';
const label = process.argv[3] ?? 'benign';
const only = process.argv[4];
const clock = createReplayClock();
const monitor = createMonitor({ policy: packPolicies(loadRulePack()), clock: clock.now });
for await (const item of readBundles(path)) {
  if ('error' in item) throw item.error;
  if (item.label !== label || (only && !item.id.includes(only))) continue;
  const result = await replayBundle(monitor, item, { clock });
  const stops = result.findings.filter((f) => only || STOPPING.has(f.action));
  if (stops.length === 0) continue;
  const tools = new Map<string, Loose>();
  const calls: Loose[] = [];
  for (const e of item.events as Loose[]) {
    const r = e.msg?.result;
    if (r && Array.isArray(r.tools)) for (const t of r.tools) tools.set(t.name, t);
    if (e.msg?.method === 'tools/call') calls.push(e.msg.params);
  }
  console.log(`\n=== ${item.id}`);
  console.log(`purpose: ${String((item.intent as Loose).purpose).slice(0, 300)}`);
  console.log(`approved: ${JSON.stringify((item.intent as Loose).tools)}`);
  console.log(`calls: ${calls.map((c) => c.name).join(' ')}`);
  for (const f of stops) {
    const c = f.call === null ? undefined : calls[f.call];
    const t = c && tools.get(c.name);
    console.log(`  ${f.rule} ${f.action} @${f.call} ${c?.name}: ${f.reason.slice(0, 200)}`);
    if (t)
      console.log(
        `    desc: ${String(t.description ?? '').slice(0, 250)}  ann: ${JSON.stringify(t.annotations ?? {})}`,
      );
    if (c) console.log(`    args: ${JSON.stringify(c.arguments).slice(0, 250)}`);
  }
}
monitor.close();
