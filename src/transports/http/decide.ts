import { invalidAnswer } from '../../carrier/relay.js';
import type { Outcome } from '../../model/decision.js';
import type { SessionHandle } from '../../monitor/handle.js';
import type { EraGate } from '../../mrtr/gate.js';
import { observeThrough } from '../../mrtr/tap-hook.js';
import type { Upstream, UpstreamSession } from './upstream.js';

/** What a session and its upstream need to decide messages of an HTTP body. */
interface Decider extends UpstreamSession {
  readonly handle: SessionHandle;
  readonly era?: EraGate;
}

/** Through the era gate when the session has one (version pinning, task owners, MRTR rounds). */
const see = (
  s: Decider,
  dir: 'c2s' | 's2c',
  m: unknown,
  bytes?: number,
  raw?: string,
  header?: (name: string) => string | undefined,
) =>
  s.era ? observeThrough(s.era, s.handle, dir, m, bytes, raw, header) : s.handle.observe(dir, m, bytes, raw);

/** What a client body's messages came to: to forward, to answer at once, and each one's outcome. */
export interface ClientDecided {
  readonly forward: unknown[];
  readonly answers: unknown[];
  readonly outcomes: Outcome[];
}

/** A body's one message and the bytes it came as (the monitor reads those; a key given twice is seen). */
export interface WireBody {
  readonly message: unknown;
  readonly text: string;
  readonly bytes: number;
}

/**
 * Decide every message of a client body, in order; `wire`: the body, when it is one of them; `header`:
 * the POST's headers, for the era gate (an `MCP-Protocol-Version` contradicting a body is -32020).
 */
export async function decideClient(
  s: Decider,
  messages: readonly unknown[],
  wire?: WireBody,
  header?: (name: string) => string | undefined,
): Promise<ClientDecided> {
  const forward: unknown[] = [],
    answers: unknown[] = [],
    outcomes: Outcome[] = [];
  for (const m of messages) {
    const out =
      wire !== undefined && wire.message === m
        ? await see(s, 'c2s', m, wire.bytes, wire.text, header)
        : await see(s, 'c2s', m, undefined, undefined, header);
    outcomes.push(out);
    if (out.forward !== undefined) forward.push(out.forward);
    const answer =
      out.answer ?? (out.event?.kind === 'invalid' ? await invalidAnswer(s.handle, 'c2s', out) : undefined);
    if (answer !== undefined) answers.push(answer);
  }
  return { forward, answers, outcomes };
}

/**
 * Decide one message from the server; returns the text to deliver (the original `raw` when it passes
 * unchanged), or nothing. An answer intentguard makes to a refused server request goes back upstream.
 */
export async function decideServer(
  upstream: Upstream,
  s: Decider,
  m: unknown,
  raw: string,
): Promise<{ text?: string }> {
  const out = await see(s, 's2c', m, Buffer.byteLength(raw), raw);
  if (out.answer !== undefined) upstream.post(s, out.answer);
  return out.forward !== undefined ? { text: out.forward === m ? raw : JSON.stringify(out.forward) } : {};
}

/**
 * Decide every message of an upstream JSON body: the texts to deliver, and whether all passed as they
 * were (none withheld, none rewritten: then the body goes on byte for byte). Undefined when the body is not JSON (shown to the monitor as invalid, never delivered).
 */
export async function decideServerBody(
  upstream: Upstream,
  s: Decider,
  text: string,
): Promise<{ texts: string[]; unchanged: boolean } | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    await s.handle.observe('s2c', text);
    return undefined;
  }
  const texts: string[] = [];
  let unchanged = true;
  // A single message is decided on the bytes upstream sent (and delivered as them when it passes).
  if (!Array.isArray(parsed)) {
    const d = await decideServer(upstream, s, parsed, text);
    // Rewritten (a result redacted, a listing filtered) is not unchanged: the body is the new text.
    return d.text !== undefined
      ? { texts: [d.text], unchanged: d.text === text }
      : { texts: [], unchanged: false };
  }
  for (const m of parsed) {
    const raw = JSON.stringify(m);
    const d = await decideServer(upstream, s, m, raw);
    if (d.text !== undefined) texts.push(d.text);
    // Withheld or rewritten: the body is rebuilt from the texts.
    if (d.text !== raw) unchanged = false;
  }
  return { texts, unchanged };
}

/**
 * An upstream answer over the size limit was dropped: the monitor sees it as an oversized answer to
 * each request, and each request gets "result withheld" in its place.
 */
export async function withheld(
  s: { handle: SessionHandle },
  requests: readonly { id: string | number }[],
  max: number,
): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (const r of requests) {
    const out = await s.handle.observe('s2c', { jsonrpc: '2.0', id: r.id }, max + 1);
    if (out.forward !== undefined) answers.push(out.forward);
  }
  return answers;
}
