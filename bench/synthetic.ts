// Recorded events of one synthetic echo session, shared by the store and fleet benches.
import type { SessionEvent, SessionState } from '../src/index.js';
import { internal } from './lib.js';

const { advance, initialState } = await internal<typeof import('../src/monitor/state.js')>('monitor/state');
const { classifyMessage } = await internal<typeof import('../src/events/validate.js')>('events/validate');
const { parseIntent } = await internal<typeof import('../src/intent/parse.js')>('intent/parse');

const intent = parseIntent({ purpose: 'bench', tools: ['echo'] });

/** `n` events of an echo session (call, answer, ...) and the fresh state they are recorded from. */
export function syntheticEvents(n: number, id = 'bench-s'): { state: SessionState; events: SessionEvent[] } {
  let state = initialState({ id, key: 'k', intent, startedAt: 0 });
  const events: SessionEvent[] = [];
  for (let i = 0; events.length < n; i++) {
    for (const [dir, raw] of [
      [
        'c2s',
        {
          jsonrpc: '2.0',
          id: i,
          method: 'tools/call',
          params: { name: 'echo', arguments: { text: `message ${i}` } },
        },
      ],
      ['s2c', { jsonrpc: '2.0', id: i, result: { content: [{ type: 'text', text: `message ${i}` }] } }],
    ] as const) {
      const r = advance(state, { dir, raw, bytes: 80, time: i, message: classifyMessage(raw) });
      state = r.state;
      events.push(r.event);
    }
  }
  return { state: initialState({ id, key: 'k', intent, startedAt: 0 }), events };
}
