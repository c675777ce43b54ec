import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import type { Identity } from '../../model/events.js';
import type { Intent } from '../../model/intent.js';
import type { Monitor } from '../../monitor/create.js';
import type { SessionHandle } from '../../monitor/handle.js';
import { LineFramer } from '../../carrier/lines.js';
import { quotaExceeded, type SessionQuota } from '../../carrier/session-quota.js';
import { endedByUpstream, relayFrame, relayOversize } from '../../carrier/relay.js';
import { serverEnv } from '../../carrier/server-env.js';
import {
  emptyBatch,
  firstRefusal,
  needsSession,
  noIntent,
  notOpen,
  otherAgent,
  refuse,
  startsSession,
  tooManySessions,
  unknownSession,
} from './refusals.js';
import { openSse, sseEvent } from './sse-format.js';
import { Asker } from '../../carrier/asker.js';
import { OrderedQueue } from '../../carrier/queue.js';
import { Valve } from '../../carrier/valve.js';
import { errorAnswer, isObject, isRequest, isResponse } from '../../jsonrpc/message.js';

/**
 * Streamable HTTP in front of a stdio server (`intentguard http -- <server command>`): the path mcp-proxy
 * and supergateway serve. Each MCP session (an `initialize` POST) gets its own server process, so agents
 * never share a server's state. Every message is decided before it reaches the process or the client.
 * A POST's requests are answered with one JSON body when nothing else has to travel with them first,
 * and as an event stream when something does (progress, a server request, an approval prompt).
 */
export interface StdioBridgeOptions {
  readonly monitor: Monitor;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  /** Most sessions (processes) at once; a new one beyond it gets 503 (default 32). */
  readonly maxSessions?: number;
  /** Sessions per agent identity; one more gets 429 (ERR_SESSION_QUOTA) before any process starts. */
  readonly sessionQuota?: SessionQuota;
}

export interface StdioBridge {
  /** A POST, GET or DELETE on the MCP endpoint, after authentication; `body` is the parsed POST body. */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity | undefined,
    intent: Intent | undefined,
    body: unknown,
  ): Promise<void>;
  /** Sessions by Mcp-Session-Id (for the idle sweeper and tests). */
  readonly sessions: ReadonlyMap<
    string,
    { readonly handle: SessionHandle; lastSeen: number; readonly waiting: ReadonlyMap<string, unknown> }
  >;
  close(): void;
}

/** One POST that carries requests: answered when every request it carries has its answer. */
interface Exchange {
  readonly res: ServerResponse;
  /** The ids its requests still wait on, with how many requests share each (a batch may repeat one). */
  readonly ids: Map<string, number>;
  readonly batch: boolean;
  /** Answers gathered for a JSON body, or undefined once the response became an event stream. */
  json: string[] | undefined;
}

interface BridgeSession {
  readonly id: string;
  readonly handle: SessionHandle;
  readonly sub: string | undefined;
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  lastSeen: number;
  exited: boolean;
  /** Client request id (typed key) → the POST waiting for its answer. */
  readonly waiting: Map<string, Exchange>;
  /** Progress token (typed key) → client request id key, to put progress on the right stream. */
  readonly progress: Map<string, string>;
  /** The GET stream, for server messages that belong to no request. */
  stream?: ServerResponse;
  /** intentguard's own prompts to the client (approval elicitations) and their answers. */
  readonly asker: Asker;
  /** Each direction is decided in order. */
  readonly c2s: OrderedQueue;
  readonly s2c: OrderedQueue;
  /** Back-pressure: the server's stdout is not read while a client stream is full or decisions back up. */
  readonly valve: Valve;
}

const key = (id: unknown) => `${typeof id}:${String(id)}`;

export function createStdioBridge(o: StdioBridgeOptions): StdioBridge {
  const sessions = new Map<string, BridgeSession>();

  /** Turn an exchange into an event stream (once), flushing what it had gathered for a JSON body. */
  const toStream = (s: BridgeSession, x: Exchange) => {
    if (x.json === undefined) return;
    openSse(x.res, s.id);
    for (const t of x.json) s.valve.write(x.res, sseEvent(t));
    x.json = undefined;
  };

  /** The exchange a server message belongs to, if any: its answer's request, its progress token's, or the latest open one. */
  const exchangeFor = (
    s: BridgeSession,
    m: unknown,
    latest: boolean,
  ): { x: Exchange; answers?: string } | undefined => {
    if (!isObject(m)) return undefined;
    if (isResponse(m)) {
      const k = key(m.id);
      const x = s.waiting.get(k);
      return x && { x, answers: k };
    }
    const token = isObject(m.params) ? m.params.progressToken : undefined;
    if (token !== undefined) {
      const x = s.waiting.get(s.progress.get(key(token)) ?? '');
      if (x) return { x };
    }
    if (!latest) return undefined;
    let last: Exchange | undefined;
    for (const x of s.waiting.values()) last = x;
    return last && { x: last };
  };

  /** Deliver one message to the client: on its POST (JSON or stream), else the GET stream. */
  const toClient = (s: BridgeSession, m: unknown, text: string): void => {
    const target = exchangeFor(s, m, isRequest(m) || !s.stream);
    if (!target) {
      // An answer whose POST is gone (the client disconnected) has nowhere to go; it was recorded.
      if (isResponse(m)) return;
      if (s.stream && !s.stream.writableEnded) s.valve.write(s.stream, sseEvent(text));
      else if (isRequest(m)) {
        // A server request with no stream to carry it: answer the server rather than leave it waiting.
        const answer = errorAnswer(
          m.id,
          -32603,
          'intentguard: the client has no open stream for server requests',
          { code: 'ERR_NO_STREAM' },
        );
        void s.handle.record('c2s', answer).then(() => writeChild(s, JSON.stringify(answer)));
      }
      return;
    }
    const { x, answers } = target;
    if (answers === undefined) toStream(s, x);
    if (x.json !== undefined) x.json.push(text);
    else if (!x.res.writableEnded) s.valve.write(x.res, sseEvent(text));
    if (answers === undefined) return;
    const left = (x.ids.get(answers) ?? 1) - 1;
    if (left > 0) x.ids.set(answers, left);
    else {
      s.waiting.delete(answers);
      x.ids.delete(answers);
      for (const [t, k] of s.progress) if (k === answers) s.progress.delete(t);
    }
    if (x.ids.size === 0) finish(s, x);
  };

  /** End an exchange: close its event stream, or send what it gathered as one JSON body (an array for a batch). */
  const finish = (s: BridgeSession, x: Exchange) => {
    if (x.res.writableEnded) return;
    if (x.json === undefined) {
      x.res.end();
      return;
    }
    const body = x.batch || x.json.length !== 1 ? `[${x.json.join(',')}]` : x.json[0]!;
    if (!x.res.headersSent)
      x.res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': s.id }).end(body);
  };

  /** Write a line to the server; false when the pipe is full (wait for {@link drained} before the next). */
  const writeChild = (s: BridgeSession, text: string): boolean => {
    if (s.exited || !s.child.stdin.writable) return true;
    return s.child.stdin.write(`${text}\n`);
  };
  /** The server has read what it was sent (or is gone): back-pressure for the client's next messages. */
  const drained = (s: BridgeSession) =>
    new Promise<void>((resolve) => {
      if (s.exited) return resolve();
      const events = [
        [s.child.stdin, 'drain'],
        [s.child.stdin, 'close'],
        [s.child, 'exit'],
        [s.child, 'error'],
      ] as const;
      const done = () => {
        for (const [emitter, name] of events) emitter.off(name, done);
        resolve();
      };
      for (const [emitter, name] of events) emitter.once(name, done);
    });

  /**
   * The server's stdout, framed by lines: each frame decided in order, then delivered to the exchange
   * it belongs to; the bytes count against the session's valve until delivered.
   */
  const frameServer = (s: BridgeSession) =>
    new LineFramer(
      o.monitor.options.maxMessageBytes,
      (text, bytes) => {
        s.valve.take(bytes);
        void s.s2c.push(async () => {
          try {
            const r = await relayFrame(s.handle, 's2c', { text, bytes });
            for (const a of r.answers) writeChild(s, JSON.stringify(a));
            // A batch from the server is delivered message by message (each to its own exchange).
            for (const f of r.forward) toClient(s, JSON.parse(f), f);
          } finally {
            s.valve.give(bytes);
          }
        });
      },
      (head, bytes) => {
        void s.s2c.push(async () => {
          const r = await relayOversize(s.handle, 's2c', head, bytes);
          for (const a of r.answers) writeChild(s, JSON.stringify(a));
          if (r.forward !== undefined) toClient(s, JSON.parse(r.forward), r.forward);
        });
      },
    );

  const open = (identity: Identity | undefined, intent: Intent, release: () => void): BridgeSession => {
    const id = randomUUID();
    const child = spawn(o.command, [...o.args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: serverEnv(o.env ?? process.env),
    });
    const handle = o.monitor.open({
      intent,
      ...(identity && { identity }),
      transport: 'http',
      transportSessionId: id,
    });
    // A prompt rides the stream of the latest open POST (the held call's), else the GET stream.
    const prompt = (request: unknown) => {
      let last: Exchange | undefined;
      for (const x of s.waiting.values()) last = x;
      if (last) {
        toStream(s, last);
        last.res.write(sseEvent(JSON.stringify(request)));
      } else s.stream!.write(sseEvent(JSON.stringify(request)));
    };
    const s: BridgeSession = {
      id,
      handle,
      sub: identity?.sub,
      child,
      lastSeen: Date.now(),
      exited: false,
      waiting: new Map(),
      progress: new Map(),
      asker: new Asker(handle, prompt),
      c2s: new OrderedQueue((e) => o.log(`relay error (c2s): ${e.message}`)),
      s2c: new OrderedQueue((e) => o.log(`relay error (s2c): ${e.message}`)),
      valve: new Valve(child.stdout, 'http-stdio s2c'),
    };
    sessions.set(id, s);
    handle.attach({
      deliver: (dir, m) => {
        if (dir === 'c2s') writeChild(s, JSON.stringify(m));
        else toClient(s, m, JSON.stringify(m));
      },
      ask: async (method, params, signal) => {
        if (s.waiting.size === 0 && !s.stream) throw new Error('no open request stream to ask the client on');
        return s.asker.ask(method, params, signal);
      },
      close: () => {
        if (!s.exited) child.kill('SIGTERM');
        if (s.stream && !s.stream.writableEnded) s.stream.end();
      },
    });
    const framer = frameServer(s);
    child.stdout.on('data', (c: Buffer) => framer.push(c));
    // A write racing the server's death fails with EPIPE: the exit (or spawn error) is handled below.
    child.stdin.on('error', () => undefined);
    let over = false;
    /** The process is gone (or never started): answer what it owed, end every open exchange, end the session. */
    const gone = (what: string) => {
      if (over) return;
      over = true;
      s.exited = true;
      framer.end();
      // Messages already on their way in either direction are decided first, so their requests are owed answers too.
      void Promise.all([s.c2s.drained(), s.s2c.drained()])
        .then(() =>
          endedByUpstream(
            handle,
            `intentguard: the server ${what} before answering`,
            `ended by upstream (${what})`,
            (a) => toClient(s, a, JSON.stringify(a)),
          ),
        )
        .finally(() => {
          // Whatever is still open gets an end: no client waits for a process that is gone.
          for (const x of new Set(s.waiting.values())) finish(s, x);
          s.waiting.clear();
          if (s.stream && !s.stream.writableEnded) s.stream.end();
          if (handle.status === 'open') handle.close('server exited');
        });
    };
    child.on('error', (e) => {
      o.log(`cannot start ${o.command}: ${e.message}`);
      gone(`could not be started (${e.message})`);
    });
    child.on('exit', (code, signal) => gone(`exited (${code ?? signal})`));
    void handle.whenEnded().then(() => {
      release();
      sessions.delete(id);
      if (!s.exited) child.kill('SIGTERM');
    });
    return s;
  };

  const post = async (res: ServerResponse, s: BridgeSession, body: unknown) => {
    const batch = Array.isArray(body);
    // Answers to intentguard's own prompts stay here.
    const messages = (batch ? (body as unknown[]) : [body]).filter((m) => !s.asker.take(m));
    if (messages.length === 0) {
      res.writeHead(202).end();
      return;
    }
    const x: Exchange = { res, ids: new Map(), batch, json: [] };
    for (const m of messages) {
      if (!isRequest(m)) continue;
      const k = key((m as { id: unknown }).id);
      x.ids.set(k, (x.ids.get(k) ?? 0) + 1);
      s.waiting.set(k, x);
      const params = (m as { params?: unknown }).params;
      const token = isObject(params) && isObject(params._meta) ? params._meta.progressToken : undefined;
      if (token !== undefined) s.progress.set(key(token), k);
    }
    res.on('close', () => {
      // The client went away: its requests' answers have nowhere to go (the session stays).
      for (const k of x.ids.keys()) if (s.waiting.get(k) === x) s.waiting.delete(k);
    });
    let forwarded = 0;
    const invalid: string[] = [];
    const done = s.c2s.push(async () => {
      for (const m of messages) {
        const text = JSON.stringify(m);
        const r = await relayFrame(s.handle, 'c2s', { text, bytes: Buffer.byteLength(text) });
        for (const a of r.answers) {
          // An answer to a request goes where that request waits; an invalid message's (null id) to this POST.
          if ((a as { id?: unknown }).id === null) invalid.push(JSON.stringify(a));
          else toClient(s, a, JSON.stringify(a));
        }
        for (const f of r.forward) {
          forwarded++;
          // While the server is not reading, this session's next messages wait here (one POST at a time).
          if (!writeChild(s, f)) await drained(s);
        }
      }
    });
    await done;
    if (res.headersSent) {
      for (const t of invalid) if (!res.writableEnded) res.write(sseEvent(t));
      return;
    }
    if (x.ids.size > 0) {
      x.json?.push(...invalid);
      return;
    }
    if (forwarded === 0 && (x.json?.length ?? 0) === 0 && invalid.length > 0) {
      // Nothing in the body could be accepted: 400, with the JSON-RPC errors (null ids) that say why.
      res
        .writeHead(400, { 'content-type': 'application/json', 'mcp-session-id': s.id })
        .end(batch || invalid.length > 1 ? `[${invalid.join(',')}]` : invalid[0]);
      return;
    }
    x.json?.push(...invalid);
    // Every request refused (answered above), or only notifications and responses: accepted.
    if (x.json && x.json.length > 0) finish(s, x);
    else res.writeHead(202, { 'mcp-session-id': s.id }).end();
  };

  /** `GET`: the session's stream for server messages that belong to no request (one at a time). */
  const stream = (s: BridgeSession, res: ServerResponse) => {
    if (s.stream && !s.stream.writableEnded)
      return refuse(res, {
        status: 409,
        rpc: -32600,
        message: 'intentguard: this session already has an open GET stream',
        code: 'ERR_STREAM_OPEN',
      });
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'mcp-session-id': s.id,
    });
    res.flushHeaders();
    s.stream = res;
    res.on('close', () => {
      if (s.stream === res) s.stream = undefined;
    });
  };

  return {
    sessions,
    async handle(req, res, identity, intent, body) {
      const sid = req.headers['mcp-session-id'];
      let s = typeof sid === 'string' ? sessions.get(sid) : undefined;
      const refused = firstRefusal(
        unknownSession(typeof sid !== 'string' || s !== undefined),
        s && otherAgent(s.sub, identity),
      );
      if (refused) return refuse(res, refused);
      if (s) s.lastSeen = Date.now();
      if (req.method === 'POST') {
        if (!s) {
          const max = o.maxSessions ?? 32;
          const first = firstRefusal(
            startsSession(body),
            noIntent(intent),
            tooManySessions(sessions.size, max),
          );
          if (first) return refuse(res, first);
          const release = o.sessionQuota ? o.sessionQuota.acquire(identity) : () => undefined;
          if (!release) return quotaExceeded(res, o.sessionQuota!.max);
          s = open(identity, intent!, release);
        }
        const closed = firstRefusal(notOpen(s.exited ? 'closed' : s.handle.status), emptyBatch(body));
        if (closed) return refuse(res, closed);
        return post(res, s, body);
      }
      if (!s) return refuse(res, needsSession(req.method, false)!);
      if (req.method === 'GET') return stream(s, res);
      if (req.method === 'DELETE') {
        s.handle.close('closed by client (DELETE)');
        res.writeHead(200).end();
        return;
      }
      res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
    },
    close() {
      for (const s of [...sessions.values()]) s.handle.close('proxy shut down');
    },
  };
}
