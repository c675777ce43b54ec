import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerUnreached } from '../../carrier/relay.js';
import { quotaExceeded } from '../../carrier/session-quota.js';
import { claimsModern } from '../../era/classify.js';
import { RPC_CODES } from '../../errors.js';
import { errorAnswer, isRequest } from '../../jsonrpc/message.js';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import { hintTraceparent, upstreamTraceHeaders } from '../../observe/hooks.js';
import { readJsonBody, type JsonBody } from './body.js';
import type { HttpCarrier } from './context.js';
import { decideClient, decideServerBody, withheld, type ClientDecided, type WireBody } from './decide.js';
import {
  emptyBatch,
  firstRefusal,
  noIntent,
  notOpen,
  quoted,
  refuse,
  sendJson,
  startsSession,
  tooManySessions,
} from './refusals.js';
import { idKey, type ProxySession } from './sessions.js';
import { relaySse } from './sse.js';
import type { PoolAnswer, WholeAnswer } from '../../lib/http-pool.js';
import { sseEvent } from './sse-format.js';

/** One POST being carried: its exchange, its session and what its body came to. */
interface Exchange {
  readonly c: HttpCarrier;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly s: ProxySession;
  readonly batch: boolean;
  readonly decided: ClientDecided;
  /** The forwarded requests: each is owed an answer on this POST. */
  readonly requests: readonly { id: string | number }[];
  /** A single-message body as it came: what goes upstream when that message passes unchanged. */
  readonly wire: WireBody | undefined;
}

/**
 * `POST` on the MCP endpoint: read the body, run the validators (each a refusal or nothing), open the
 * session on an `initialize`, then carry the exchange. `s` is the session the Mcp-Session-Id names.
 */
export async function handlePost(
  c: HttpCarrier,
  req: IncomingMessage,
  res: ServerResponse,
  s: ProxySession | undefined,
  identity: Identity | undefined,
  intent: Intent | undefined,
  /** The body, when a fleet's router read it already (src/transports/http/fleet-route.ts). */
  pre?: JsonBody,
): Promise<void> {
  const read = pre ?? (await readJsonBody(req, c.maxBody));
  if (read.refusal) return refuse(res, read.refusal);
  const parsed = read.body;
  if (!intent) return refuse(res, noIntent(intent)!);
  // MCP 2026-07-28: no initialize, no session id; admitted by the grant alone (src/stateless/http.ts).
  const header = req.headers['mcp-protocol-version'];
  if (!s && c.stateless && claimsModern(parsed, typeof header === 'string' ? header : undefined)) {
    await c.stateless.handle(req, res, identity, intent, parsed, read);
    return;
  }
  const fresh = !s;
  if (!s) {
    // Without a session id only an initialize is taken: a stray POST must not leave a session behind.
    const refused = firstRefusal(startsSession(parsed), tooManySessions(c.sessions.open, c.maxSessions));
    if (refused) return refuse(res, refused);
    const release = c.runtime.sessionQuota.acquire(identity);
    if (!release) return quotaExceeded(res, c.runtime.sessionQuota.max);
    s = c.sessions.openSession(identity, intent, release);
  }
  const refused = firstRefusal(notOpen(s.handle.status), emptyBatch(parsed));
  if (refused) return refuse(res, refused);
  const batch = Array.isArray(parsed);
  const wire = batch ? undefined : { message: parsed, text: read.text, bytes: read.bytes };
  try {
    await carry(c, req, res, s, batch ? (parsed as unknown[]) : [parsed], batch, wire);
  } finally {
    // An initialize that did not open a session upstream (refused, failed) leaves nothing behind.
    if (fresh && !s.sid) s.handle.close('the session did not start');
  }
}

/** Decide a POST's messages, then answer them here or forward them and relay upstream's answer. */
async function carry(
  c: HttpCarrier,
  req: IncomingMessage,
  res: ServerResponse,
  s: ProxySession,
  messages: unknown[],
  batch: boolean,
  wire: WireBody | undefined,
): Promise<void> {
  // Answers to intentguard's own prompts are taken here: they are not the server's business.
  if (s.asker.waiting) {
    messages = messages.filter((m) => !s.asker.take(m));
    if (messages.length === 0) {
      res.writeHead(202).end();
      return;
    }
  }
  const { decided, early } = await decideOnPost(c, req, res, s, messages, wire);
  const requests = decided.forward.filter(isRequest);
  const x: Exchange = { c, req, res, s, batch, decided, requests, wire };
  // A prompt opened this POST as an event stream: everything else goes down it too.
  if (res.headersSent) return finishOnStream(x, early);
  decided.answers.push(...early);
  if (stepUp(x)) return;
  if (decided.forward.length === 0) return answerHere(x);
  await forward(x);
}

/**
 * Decide the messages with this POST as the stream prompts ride (when its client takes SSE); a halt
 * while they are being decided answers them here (`early`).
 */
async function decideOnPost(
  c: HttpCarrier,
  req: IncomingMessage,
  res: ServerResponse,
  s: ProxySession,
  messages: unknown[],
  wire: WireBody | undefined,
): Promise<{ decided: ClientDecided; early: unknown[] }> {
  const early: unknown[] = [];
  for (const m of messages) if (isRequest(m)) s.waiters.set(idKey(m.id), (a) => early.push(a));
  if (String(req.headers.accept ?? '').includes('text/event-stream')) s.promptOn = res;
  hintTraceparent(c.runtime.observe, s.handle.id, messages, req.headers.traceparent);
  const decided = await decideClient(s, messages, wire, (name) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  });
  if (s.promptOn === res) s.promptOn = undefined;
  for (const m of messages) if (isRequest(m)) s.waiters.delete(idKey(m.id));
  return { decided, early };
}

/** One held call, refused for lack of approval, from a client with a grant: ask it to step up (403). */
function stepUp(x: Exchange): boolean {
  const single = !x.batch && x.decided.outcomes[0];
  if (
    !single ||
    single.decision?.action !== 'reauthorize' ||
    single.answer === undefined ||
    !x.c.stepUp403 ||
    !single.event?.tool
  )
    return false;
  const data = (single.answer as { error: { data: { reason: string } } }).error.data;
  sendJson(x.res, 403, single.answer, {
    'www-authenticate': `Bearer realm="intentguard", error="insufficient_scope", scope=${quoted(`intent:tool:${single.event.tool}`)}, error_description=${quoted(data.reason ?? 'outside the approved intent')}, resource_metadata=${quoted(x.c.metadataUrl())}`,
  });
  return true;
}

/** Nothing to forward: 202 when nothing is owed, else intentguard's answers (400 when all were invalid). */
function answerHere({ res, decided, batch }: Exchange): void {
  if (decided.answers.length === 0) {
    res.writeHead(202).end();
    return;
  }
  // Nothing in the body could be accepted (only invalid messages): 400, with the null-id errors saying why.
  sendJson(
    res,
    decided.answers.every((a) => (a as { id?: unknown }).id === null) ? 400 : 200,
    batch ? decided.answers : decided.answers[0],
  );
}

/**
 * POST the allowed messages upstream (a batch as one array, as it came): upstream's answer, or the
 * error that kept it from coming (then the exchange waits for nothing more).
 */
async function forwardUp(x: Exchange): Promise<PoolAnswer | Error> {
  const { c, req, s, batch, decided, wire } = x;
  try {
    const trace = upstreamTraceHeaders(c.runtime.observe, s.handle.id, decided.forward, req.headers);
    // A single message that passed unchanged goes as the client wrote it (the bytes the monitor read).
    const body =
      wire && !batch && decided.forward[0] === wire.message
        ? wire.text
        : JSON.stringify(batch ? decided.forward : decided.forward[0]);
    return await c.upstream.call('POST', req.headers, body, s, trace);
  } catch (e) {
    forget(x)();
    return e as Error;
  }
}

/** Stop waiting for these requests' answers on this exchange. */
const forget = (x: Exchange) => () => {
  for (const r of x.requests) x.s.waiters.delete(idKey(r.id));
};

/**
 * Forward the allowed messages upstream and answer the POST with what upstream says, decided. A halt
 * before upstream answers answers the requests itself.
 */
async function forward(x: Exchange): Promise<void> {
  const { c, res, s, batch, decided, requests } = x;
  let settled = false;
  const halted: unknown[] = [];
  for (const r of requests)
    s.waiters.set(idKey(r.id), (answer) => {
      halted.push(answer);
      if (!settled && halted.length === requests.length) {
        settled = true;
        sendJson(res, 200, batch ? [...decided.answers, ...halted] : halted[0]);
      }
    });
  const done = forget(x);
  const up = await forwardUp(x);
  if (up instanceof Error) {
    if (settled) return;
    settled = true;
    const errs = await answerUnreached(s.handle, requests, up);
    sendJson(
      res,
      502,
      batch
        ? [...decided.answers, ...errs]
        : (errs[0] ?? errorAnswer(null, -32603, 'upstream unavailable', { code: 'ERR_UPSTREAM' })),
    );
    return;
  }
  if (settled) {
    if (up.kind === 'stream') up.body.resume();
    done();
    return;
  }
  const headers = answerHeaders(x, up);
  if (up.kind === 'stream') {
    settled = true;
    res.writeHead(up.status, headers);
    // From now on a halt answers these requests inside the stream.
    for (const r of requests)
      s.waiters.set(idKey(r.id), (a) => {
        if (!res.writableEnded) res.write(`data: ${JSON.stringify(a)}\n\n`);
      });
    relaySse(c, s, up.body, res, { prefix: decided.answers, requests, onEnd: done });
    return;
  }
  done();
  settled = true;
  await answerJson(x, up, headers);
}

/**
 * The headers of the POST's answer: upstream's type and caching, and the session id. On the session's
 * first exchange it is named: upstream's session id, or, when upstream is stateless (gives none) and
 * accepted the request, one of intentguard's own, so the session's calls are still seen together
 * (budgets, sequences, data flow).
 */
function answerHeaders({ c, s }: Exchange, up: PoolAnswer): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of ['content-type', 'cache-control'])
    if (typeof up.headers[h] === 'string') headers[h] = up.headers[h];
  if (!s.sid) {
    const sid = up.headers['mcp-session-id'];
    const ok = up.status >= 200 && up.status < 300;
    if (typeof sid === 'string') s.upstreamSid = sid;
    const name = typeof sid === 'string' ? sid : ok ? `ig-${randomUUID()}` : undefined;
    if (name) c.sessions.name(s, name);
  }
  if (s.sid) headers['mcp-session-id'] = s.sid;
  return headers;
}

/** Upstream answered with a body (JSON, or something that is not MCP): decided, then sent as one. */
async function answerJson(x: Exchange, up: WholeAnswer, headers: Record<string, string>): Promise<void> {
  const { c, res, s, batch, decided, requests } = x;
  const body = up.body;
  if (body === 'too-large') {
    const answers = [...decided.answers, ...(await withheld(s, requests, c.maxBody))];
    sendJson(res, 200, batch || answers.length !== 1 ? answers : answers[0]);
    return;
  }
  const text = body.toString('utf8');
  const type = String(up.headers['content-type'] ?? '');
  if (!type.includes('application/json') || text.trim() === '') {
    if (requests.length === 0) {
      // Only notifications and responses went up: the server's acknowledgement (202) passes as it is.
      res.writeHead(up.status, headers).end(text);
      return;
    }
    // Requests owed answers got something that is not MCP (an HTML error page, an empty body): it is
    // not delivered; each request gets an error the monitor records, and the client a 502.
    const why = new Error(
      `upstream answered HTTP ${up.status} with ${type || 'no content type'}${text.trim() === '' ? ' and an empty body' : ''}`,
    );
    const errs = await answerUnreached(s.handle, requests, why);
    sendJson(res, 502, batch ? [...decided.answers, ...errs] : errs[0]);
    return;
  }
  const fromUp = await decideServerBody(c.upstream, s, text);
  if (!fromUp) {
    sendJson(
      res,
      502,
      errorAnswer(null, -32603, 'intentguard: upstream sent invalid JSON', { code: 'ERR_JSONRPC_INVALID' }),
    );
    return;
  }
  const all = [...decided.answers.map((a) => JSON.stringify(a)), ...fromUp.texts];
  if (all.length === 0) {
    res.writeHead(202, headers).end();
    return;
  }
  const out =
    fromUp.unchanged && decided.answers.length === 0
      ? text
      : batch || all.length > 1
        ? `[${all.join(',')}]`
        : all[0]!;
  // A fleet: answered once what led to the answer is committed, so the instance that takes the
  // session over next rebuilds it from everything its client saw (withheld if it cannot be).
  const fleet = c.runtime.fleetSessions;
  if (fleet)
    try {
      await fleet.durable();
    } catch (e) {
      const why = `intentguard: result withheld: it could not be recorded (${(e as Error).message})`;
      sendJson(res, 503, errorAnswer(null, RPC_CODES.REFUSED, why, { code: 'ERR_RECORD_FAILED' }));
      return;
    }
  res.writeHead(up.status, { ...headers, 'content-length': String(Buffer.byteLength(out)) }).end(out);
}

/**
 * Finish a POST whose response is already an event stream (an approval prompt went down it): the
 * answers intentguard made, then what upstream says to the forwarded messages, all as events.
 */
async function finishOnStream(x: Exchange, early: readonly unknown[]): Promise<void> {
  const { c, res, s, decided, requests } = x;
  for (const a of [...decided.answers, ...early]) res.write(sseEvent(a));
  if (decided.forward.length === 0) {
    res.end();
    return;
  }
  for (const r of requests)
    s.waiters.set(idKey(r.id), (a) => {
      if (!res.writableEnded) res.write(sseEvent(a));
    });
  const done = forget(x);
  const up = await forwardUp(x);
  if (up instanceof Error) {
    for (const answer of await answerUnreached(s.handle, requests, up)) res.write(sseEvent(answer));
    res.end();
    return;
  }
  if (up.kind === 'stream') {
    relaySse(c, s, up.body, res, { requests, onEnd: done });
    return;
  }
  const body = up.body;
  done();
  const texts =
    body === 'too-large'
      ? (await withheld(s, requests, c.maxBody)).map((a) => JSON.stringify(a))
      : body.toString('utf8').trim() === ''
        ? []
        : ((await decideServerBody(c.upstream, s, body.toString('utf8')))?.texts ?? []);
  for (const t of texts) if (!res.writableEnded) res.write(sseEvent(t));
  res.end();
}
