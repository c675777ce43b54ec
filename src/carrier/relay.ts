import { RPC_CODES } from '../errors.js';
import type { Direction } from '../model/events.js';
import type { SessionHandle } from '../monitor/handle.js';
import { errorAnswer, isRequest } from '../jsonrpc/message.js';
import type { Outcome } from '../model/decision.js';
import type { EraGate } from '../mrtr/gate.js';
import { observeThrough } from '../mrtr/tap-hook.js';
import { batchRequestIds, type BatchAnswers } from './batches.js';

/** A serialized message plus what is known of it on the wire. */
export interface WireMessage {
  readonly text: string;
  readonly bytes: number;
}

const PARSE_ERROR = (detail: string) =>
  errorAnswer(null, -32700, `intentguard: parse error: ${detail}`, { code: 'ERR_JSONRPC_INVALID' });

/**
 * A client's message refused as invalid with nothing to answer it by (no usable id): JSON-RPC's answer
 * is an error with a null id, so the sender learns why instead of hearing nothing. Recorded like every
 * answer intentguard makes. Undefined for anything else.
 */
export async function invalidAnswer(session: SessionHandle, dir: Direction, o: Outcome): Promise<unknown> {
  if (dir !== 'c2s' || o.event?.kind !== 'invalid' || o.answer !== undefined || o.forward !== undefined)
    return undefined;
  const fault = o.event.fault;
  const answer = errorAnswer(
    null,
    RPC_CODES.INVALID_REQUEST,
    `intentguard: invalid message: ${fault?.message ?? 'not a JSON-RPC message'}`,
    { code: fault?.code ?? 'ERR_JSONRPC_INVALID' },
  );
  if (session.status === 'open') await session.record('s2c', answer);
  return answer;
}

/** What one frame comes to: the texts to forward (in order) and the answers for its sender. */
export interface Relayed {
  readonly forward: string[];
  readonly answers: unknown[];
}

/**
 * The message-level core every proxy shares: parse one wire frame (once), show each message to the
 * monitor, and return what to forward (the original text when unchanged, so unknown fields and
 * formatting pass through byte for byte) and what to answer the sender. A batch (a JSON array) is never
 * forwarded as one: each element is decided on its own and each allowed element is forwarded as a
 * single message; with `batches` (the answers going back to the batch's sender), those answers are
 * re-assembled into one array (see {@link BatchAnswers}). With `era` (the runtime's gate), each message
 * is seen through it (MCP 2026-07-28 beside 2025-11-25: src/mrtr/tap-hook.ts `observeThrough`); `header`
 * reads the HTTP request's headers when the frame came in a POST (Mcp-Method / Mcp-Name checked against
 * the body). A single message the monitor decides at once is relayed synchronously (no promise): the
 * per-message fast path; anything that waits (a held call, a refusal's record, a batch) returns a promise.
 */
export function relayFrame(
  session: SessionHandle,
  dir: Direction,
  frame: WireMessage,
  batches?: BatchAnswers,
  era?: EraGate,
  header?: (name: string) => string | undefined,
): Relayed | Promise<Relayed> {
  const see = (m: unknown, bytes: number, text?: string): Outcome | Promise<Outcome> =>
    era ? observeThrough(era, session, dir, m, bytes, text, header) : session.observe(dir, m, bytes, text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.text);
  } catch (e) {
    return unparsable(session, dir, frame, e as Error);
  }
  if (Array.isArray(parsed)) return relayBatch(session, dir, frame, parsed, see, batches);
  const o = see(parsed, frame.bytes, frame.text);
  return o instanceof Promise
    ? o.then((x) => single(session, dir, frame, parsed, x))
    : single(session, dir, frame, parsed, o);
}

/** One decided message: its text forwarded unchanged when the monitor passed it as it came. */
function single(
  session: SessionHandle,
  dir: Direction,
  frame: WireMessage,
  parsed: unknown,
  o: Outcome,
): Relayed | Promise<Relayed> {
  const forward =
    o.forward === undefined ? [] : [o.forward === parsed ? frame.text : JSON.stringify(o.forward)];
  if (o.answer !== undefined) return { forward, answers: [o.answer] };
  if (o.event?.kind !== 'invalid') return { forward, answers: [] };
  return invalidAnswer(session, dir, o).then((a) => ({ forward, answers: a === undefined ? [] : [a] }));
}

/** Not JSON: still shown to the monitor (as an invalid event), never forwarded; the answer is recorded. */
async function unparsable(
  session: SessionHandle,
  dir: Direction,
  frame: WireMessage,
  e: Error,
): Promise<Relayed> {
  await session.observe(dir, frame.text, frame.bytes);
  const answer = PARSE_ERROR(e.message);
  if (session.status === 'open') await session.record(dir === 'c2s' ? 's2c' : 'c2s', answer);
  return { forward: [], answers: [answer] };
}

async function relayBatch(
  session: SessionHandle,
  dir: Direction,
  frame: WireMessage,
  parsed: unknown[],
  see: (m: unknown, bytes: number) => Outcome | Promise<Outcome>,
  batches: BatchAnswers | undefined,
): Promise<Relayed> {
  if (parsed.length === 0) {
    await session.observe(dir, parsed, frame.bytes);
    return {
      forward: [],
      answers: [errorAnswer(null, -32600, 'intentguard: empty batch', { code: 'ERR_JSONRPC_INVALID' })],
    };
  }
  // Opened before any element is decided: a halt while deciding answers into it too.
  const batch = batches?.open(batchRequestIds(parsed));
  const forward: string[] = [];
  const answers: unknown[] = [];
  const loose: unknown[] = [];
  for (const m of parsed) {
    const o = await see(m, Math.ceil(frame.bytes / parsed.length));
    const answer =
      o.answer ?? (o.event?.kind === 'invalid' ? await invalidAnswer(session, dir, o) : undefined);
    if (answer !== undefined)
      (batch && (answer as { id?: unknown }).id === null ? loose : answers).push(answer);
    if (o.forward !== undefined) forward.push(JSON.stringify(o.forward));
  }
  if (batch) batches!.seal(batch, loose);
  return { forward, answers };
}

const ID_RE = /"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)/;
const METHOD_RE = /"method"\s*:\s*"([^"]{1,200})"/;

/**
 * A frame longer than the size limit, of which only its first bytes (`head`) were kept: the monitor
 * sees what identifies it (id, method, size); it is never forwarded. Its sender gets an error answer,
 * or, when it was the answer to a waiting request, the caller gets an error in its place.
 */
export async function relayOversize(
  session: SessionHandle,
  dir: Direction,
  head: string,
  bytes: number,
): Promise<{ forward?: string; answers: unknown[] }> {
  const idText = ID_RE.exec(head)?.[1];
  let id: string | number | undefined;
  try {
    id = idText === undefined ? undefined : (JSON.parse(idText) as string | number);
  } catch {
    id = undefined;
  }
  const method = METHOD_RE.exec(head)?.[1];
  const o = await session.observe(
    dir,
    { jsonrpc: '2.0', ...(id !== undefined && { id }), ...(method && { method }) },
    bytes,
  );
  return {
    ...(o.forward !== undefined && { forward: JSON.stringify(o.forward) }),
    answers: o.answer !== undefined ? [o.answer] : [],
  };
}

/** How far past the size limit an upstream SSE event may grow before its stream is cut. */
export const SSE_EVENT_SLACK = 64 * 1024;

/**
 * The server could not be reached: each request among `messages` gets an error answer (shown to the
 * monitor, so the record holds it). Returns the answers, for the carrier to deliver.
 */
export async function answerUnreached(
  session: SessionHandle,
  messages: readonly unknown[],
  error: Error,
): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (const m of messages) {
    if (!isRequest(m)) continue;
    const answer = errorAnswer(
      m.id,
      RPC_CODES.HALTED,
      `intentguard: upstream unavailable: ${error.message}`,
      {
        code: 'ERR_UPSTREAM',
      },
    );
    await session.record('s2c', answer);
    answers.push(answer);
  }
  return answers;
}

/** What a proxy shutting down answers each request a server still owes ({@link endOwing}). */
export const SHUT_DOWN_OWED = 'intentguard: the proxy shut down before the server answered';
/** How long, at shutdown, a connection still busy after every owed answer was written may take to end. */
export const SHUTDOWN_GRACE_MS = 2000;

/**
 * The session ends while the client still waits on it (the server went away, or the proxy is shutting
 * down): every client request still owed an answer is answered with an error now (not left to the
 * client's timeout, nor cut with its connection), then the session is closed with `reason`.
 */
export async function endOwing(
  session: SessionHandle,
  message: string,
  reason: string,
  deliver: (answer: unknown) => void,
  code: 'ERR_SESSION_CLOSED' | 'ERR_UPSTREAM_BACKLOG' = 'ERR_SESSION_CLOSED',
): Promise<void> {
  if (session.status !== 'open') return;
  for (const p of session.state().pending.values()) {
    if (p.dir !== 'c2s') continue;
    const answer = errorAnswer(p.id, RPC_CODES.HALTED, message, {
      code,
      session: session.id,
    });
    await session.record('s2c', answer);
    deliver(answer);
  }
  session.close(reason);
}
