// Profiling helper (not a benchmark): runs the shipped pack on one pathological shape at one size,
// as a tool result or as a call argument, N times, so `node --cpu-prof` profiles of two sizes compare.
// Usage: node --cpu-prof --import tsx bench/profile-shape.ts 'www.' 1000000 result|argument [reps]
import { SHAPES, shaped } from '../test/adversarial/shapes.js';
import { shapeMessages } from './shape-messages.js';
import type * as Lib from '../src/index.js';

// The compiled build (what production runs); DIST=<path to index.js> profiles another one.
const { advance, classifyMessage, combinePolicies, initialState, loadRulePack, packPolicies, parseIntent } =
  (await import(process.env.DIST ?? '../dist/index.js')) as typeof Lib;

const [unitName = 'www.', sizeArg = '64000', where = 'argument', repsArg] = process.argv.slice(2);
const unit = SHAPES[unitName] ?? unitName;
const size = Number(sizeArg);
const reps = Number(repsArg ?? Math.max(1, Math.round(16_000_000 / size)));
const intent = parseIntent({
  purpose: 'Summarise the notes and email them to team@corp.example.com',
  tools: ['read_notes', 'send_email'],
});
const policy = combinePolicies(packPolicies(loadRulePack()));
let spent = 0n;
for (let r = 0; r < reps; r++) {
  const text = shaped(unit, size, `t${r}`);
  let session = initialState({ id: `p${r}`, key: 'k', intent, startedAt: 0 });
  const state = policy.createState!(session);
  const raws = shapeMessages(text, where === 'result' ? 'result' : 'argument');
  raws.forEach((raw, i) => {
    const step = advance(session, {
      dir: i % 2 === 0 ? 'c2s' : 's2c',
      raw,
      bytes: 100,
      time: 1000 * (i + 1),
      message: classifyMessage(raw),
    });
    session = step.state;
    const t0 = process.hrtime.bigint();
    void policy.evaluate({ event: step.event, session, state });
    if (i === raws.length - 1) spent += process.hrtime.bigint() - t0;
  });
}
console.log(
  `${unitName} ${size} ${where}: ${(Number(spent) / reps / size).toFixed(1)} ns/char over ${reps} reps`,
);
