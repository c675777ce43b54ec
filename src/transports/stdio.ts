import type { Readable, Writable } from 'node:stream';
import type { Direction, Identity } from '../model/events.js';
import type { GrantError } from '../identity/grant.js';
import type { Intent } from '../model/intent.js';
import { printable } from '../lib/printable.js';
import { errorAnswer } from '../jsonrpc/message.js';
import { Asker } from '../carrier/asker.js';
import { BatchAnswers } from '../carrier/batches.js';
import { Lane } from '../carrier/lane.js';
import { LineFramer } from '../carrier/lines.js';
import { childProbe } from '../observe/hooks.js';
import type { SessionHandle } from '../monitor/handle.js';
import { Valve } from '../carrier/valve.js';
import { endOwing, relayFrame, relayOversize, type Relayed } from '../carrier/relay.js';
import { startServer, type ServerProcess } from './stdio-server.js';
import type { Runtime } from './runtime.js';

export interface StdioProxyOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly runtime: Runtime;
  /** The agent's grant (flag or INTENTGUARD_GRANT). Required when grants are configured. */
  readonly grant?: string;
  readonly input?: Readable;
  readonly output?: Writable;
  readonly log?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The server, when the caller started it already (`intentguard stdio` starts it before loading the
   * monitor, so both starts overlap): stopped here when no session can be opened.
   */
  readonly server?: ServerProcess;
}

/**
 * `intentguard stdio -- <server command>`: spawn the real server and sit between it and the client on
 * stdin/stdout with our own line framing, so unknown fields and `id: null` errors pass through
 * unharmed; a batch is decided element by element, forwarded as single messages and answered as one. Server stderr passes through; signals are forwarded; the server's exit code
 * becomes ours; on halt the server is stopped. Resolves with the exit code.
 */
export async function runStdioProxy(o: StdioProxyOptions): Promise<number> {
  const input = o.input ?? process.stdin;
  const output = o.output ?? process.stdout;
  const log = o.log ?? ((line: string) => process.stderr.write(`intentguard: ${printable(line)}\n`));
  const { monitor, gate, defaultIntent } = o.runtime;
  let identity: Identity | undefined;
  let intent: Intent | undefined = defaultIntent;
  if (gate) {
    try {
      const g = await gate.verify(o.grant);
      identity = g.identity;
      intent = g.intent;
    } catch (e) {
      const err = e as GrantError;
      log(`grant refused: ${err.code}: ${err.message}`);
      await o.server?.stop();
      return refuseAll(input, output, err.code, err.message);
    }
  }
  if (!intent) {
    log('no intent: give --intent FILE or configure grants (--jwks ...) carrying an intent claim');
    await o.server?.stop();
    return refuseAll(input, output, 'ERR_GRANT_INTENT', 'no approved intent for this session');
  }
  const server = o.server ?? startServer({ ...o, log });
  const session = monitor.open({ intent, ...(identity && { identity }), transport: 'stdio' });
  o.runtime.observe.setUpstream(childProbe(server.child, () => server.exited));
  const wire = carry(session, server, input, output, monitor.options.maxMessageBytes, log, o.runtime.era);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((sig) => [sig, () => server.exited || server.child.kill(sig)] as const);
  if (input === process.stdin) for (const [sig, h] of handlers) process.on(sig, h);
  const code = await server.done;
  await wire.ended(code);
  for (const [sig, h] of handlers) process.off(sig, h);
  input.removeAllListeners('data');
  return code;
}

/**
 * Carry one session between the client's stdin/stdout and the server's pipes: each direction framed
 * by lines, decided in order, and under back-pressure (a {@link Valve} per direction: while the
 * receiving side is not reading, or decisions are backed up, the sending side is not read either).
 */
function carry(
  session: SessionHandle,
  server: ServerProcess,
  input: Readable,
  output: Writable,
  max: number,
  log: (line: string) => void,
  era: Runtime['era'],
) {
  const { child } = server;
  // Each direction is carried in order by its lane: a frame is decided before the next one is looked
  // at, at once when nothing is queued (the fast path). What a direction's job writes (its forwards,
  // and its answers to the sender) counts against its valve.
  const lanes = {
    c2s: new Lane(new Valve(input, 'stdio c2s'), (e) => log(`relay error (c2s): ${e.message}`)),
    s2c: new Lane(new Valve(child.stdout, 'stdio s2c'), (e) => log(`relay error (s2c): ${e.message}`)),
  };
  const valves = { c2s: lanes.c2s.valve, s2c: lanes.s2c.valve };
  const line = (m: unknown) => `${typeof m === 'string' ? m : JSON.stringify(m)}\n`;
  // Answers to a client's batch go back as one array, whoever makes them (see BatchAnswers).
  const clientBatches = new BatchAnswers((answers) => valves.s2c.write(output, line(answers)));
  const serverBatches = new BatchAnswers((answers) => writeServer(answers, valves.c2s, true));
  const writeClient = (m: unknown, valve = valves.s2c): void => {
    if (!clientBatches.take(m)) valve.write(output, line(m));
  };
  function writeServer(m: unknown, valve = valves.c2s, assembled = false): void {
    if (server.exited || !child.stdin.writable) return;
    if (!assembled && serverBatches.take(m)) return;
    valve.write(child.stdin, line(m));
  }
  const stopChild = () => {
    if (server.exited) return;
    child.kill('SIGTERM');
    setTimeout(() => {
      if (!server.exited) child.kill('SIGKILL');
    }, 2000).unref();
  };
  const asker = new Asker(session, (m) => writeClient(m));
  session.attach({
    deliver: (dir, m) => (dir === 'c2s' ? writeServer(m) : writeClient(m)),
    close: stopChild,
    ask: (method, params, signal) => asker.ask(method, params, signal),
  });
  const send = {
    c2s: { sender: (m: unknown) => writeClient(m, valves.c2s), receiver: (m: unknown) => writeServer(m) },
    s2c: { sender: (m: unknown) => writeServer(m, valves.s2c), receiver: (m: unknown) => writeClient(m) },
  };
  const deliver = (dir: Direction, r: { forward: readonly unknown[]; answers: readonly unknown[] }) => {
    for (const a of r.answers) send[dir].sender(a);
    for (const f of r.forward) send[dir].receiver(f);
  };
  const frame = (dir: Direction, bytes: number, relay: () => Relayed | Promise<Relayed>) =>
    lanes[dir].pass(bytes, () => {
      const r = relay();
      return r instanceof Promise ? r.then((x) => deliver(dir, x)) : deliver(dir, r);
    });
  const framer = (dir: Direction) =>
    new LineFramer(
      max,
      (text, bytes) => {
        // The client's answer to an approval prompt bypasses the queue (the queue may be waiting on it).
        if (dir === 'c2s' && asker.takeText(text)) return;
        frame(dir, bytes, () =>
          relayFrame(session, dir, { text, bytes }, dir === 'c2s' ? clientBatches : serverBatches, era),
        );
      },
      (head, bytes) =>
        frame(dir, 0, async () => {
          const r = await relayOversize(session, dir, head, bytes);
          return { answers: r.answers, forward: r.forward === undefined ? [] : [r.forward] };
        }),
    );
  const fromClient = framer('c2s');
  const fromServer = framer('s2c');
  input.on('data', (c: Buffer) => fromClient.push(c));
  input.on('end', () => {
    fromClient.end();
    void lanes.c2s.drained().then(() => child.stdin.end());
  });
  child.stdout.on('data', (c: Buffer) => fromServer.push(c));
  return {
    /** The server exited: decide what it still sent, then answer what it owed. */
    async ended(code: number) {
      fromServer.end();
      await lanes.s2c.drained();
      await endOwing(
        session,
        `intentguard: the server exited (code ${code}) before answering`,
        `ended by upstream (exit ${code})`,
        writeClient,
      );
    },
  };
}

/** No session can be opened: answer every request with the reason, then exit 1 when the client leaves. */
function refuseAll(input: Readable, output: Writable, code: string, message: string): Promise<number> {
  const write = (m: unknown) => output.write(`${JSON.stringify(m)}\n`);
  return new Promise<number>((resolve) => {
    const framer = new LineFramer(
      1 << 20,
      (line) => {
        try {
          const m = JSON.parse(line) as { id?: unknown; method?: unknown };
          if (m && (typeof m.id === 'string' || typeof m.id === 'number') && typeof m.method === 'string') {
            write(errorAnswer(m.id, -32001, `intentguard: ${code}: ${message}`, { code }));
          }
        } catch {
          // not JSON: nothing to answer
        }
      },
      () => undefined,
    );
    input.on('data', (c: Buffer) => framer.push(c));
    input.on('end', () => resolve(1));
  });
}
