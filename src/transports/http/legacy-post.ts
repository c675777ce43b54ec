import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerUnreached, invalidAnswer } from '../../carrier/relay.js';
import { errorAnswer } from '../../jsonrpc/message.js';
import { hintTraceparent, upstreamTraceHeaders } from '../../observe/hooks.js';
import type { Observability } from '../../observe/observability.js';
import type { LegacySession } from './legacy-session.js';
import { sendJson } from './refusals.js';
import { observeThrough } from '../../mrtr/tap-hook.js';

/**
 * `POST <messages path>?sessionId=…` on an admitted session: answers to intentguard's own prompts are
 * taken (the call they unblock may be this client's other, still open POST; they never reach the
 * server); every other message is decided, refusals answered on the client's stream (legacy servers
 * answer there), and what is allowed posted upstream as the client sent it (one message or a batch).
 */
export async function postToLegacy(
  req: IncomingMessage,
  res: ServerResponse,
  s: LegacySession,
  body: unknown,
  observe: Observability | undefined,
): Promise<void> {
  const messages = (Array.isArray(body) ? body : [body]).filter((m) => !s.asker.take(m));
  if (messages.length === 0) {
    res.writeHead(202).end('Accepted');
    return;
  }
  const forward: unknown[] = [];
  if (observe) hintTraceparent(observe, s.handle.id, messages, req.headers.traceparent);
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  for (const m of messages) {
    // Per request, as on every carrier: a 2026-07-28 request is decided by the era gate (the session
    // keeps the version it started with: a modern request on a 2025 stream is -32022, not passed on).
    const era = s.era;
    const out = era
      ? await observeThrough(era, s.handle, 'c2s', m, undefined, undefined, header)
      : await s.handle.observe('c2s', m);
    const answer =
      out.answer ?? (out.event?.kind === 'invalid' ? await invalidAnswer(s.handle, 'c2s', out) : undefined);
    if (answer !== undefined) s.write(answer);
    if (out.forward !== undefined) forward.push(out.forward);
  }
  if (forward.length === 0) {
    res.writeHead(202).end('Accepted');
    return;
  }
  const text = JSON.stringify(Array.isArray(body) ? forward : forward[0]);
  try {
    const trace = observe && upstreamTraceHeaders(observe, s.handle.id, forward, req.headers);
    const status = await s.post(text, req.headers.host, trace);
    if (status >= 200 && status < 300) {
      res.writeHead(202).end('Accepted');
      return;
    }
    // The server refused the POST: its requests will never be answered on the stream, so they are
    // answered with errors there now (recorded), rather than left to the client's timeout.
    const refused = new Error(`upstream refused the message (HTTP ${status})`);
    for (const answer of await answerUnreached(s.handle, forward, refused)) s.write(answer);
    res.writeHead(status).end('upstream refused the message');
  } catch (e) {
    // Nothing reached the server: every forwarded request gets an error on the stream.
    for (const answer of await answerUnreached(s.handle, forward, e as Error)) s.write(answer);
    sendJson(
      res,
      502,
      errorAnswer(null, -32603, `intentguard: upstream unavailable: ${(e as Error).message}`, {
        code: 'ERR_UPSTREAM',
      }),
    );
  }
}
