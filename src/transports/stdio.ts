import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Direction, Identity } from '../model/events.js';
import type { GrantError } from '../identity/grant.js';
import type { Intent } from '../model/intent.js';
import { printable } from '../lib/printable.js';
import { errorAnswer } from '../jsonrpc/message.js';
import { Asker } from '../carrier/asker.js';
import { BatchAnswers } from '../carrier/batches.js';
import { directionQueues } from '../carrier/queue.js';
import { LineFramer } from '../carrier/lines.js';
import { childProbe } from '../observe/hooks.js';
import { endedByUpstream, relayFrame, relayOversize, serverEnv } from '../carrier/relay.js';
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
  const max = monitor.options.maxMessageBytes;
  const rawWriteClient = (m: unknown): void => {
    output.write(`${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
  };
  // Answers to a client's batch go back as one array, whoever makes them (see BatchAnswers).
  const clientBatches = new BatchAnswers(rawWriteClient);
  const writeClient = (m: unknown): void => {
    if (!clientBatches.take(m)) rawWriteClient(m);
  };

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
      return refuseAll(input, writeClient, err.code, err.message);
    }
  }
  if (!intent) {
    log('no intent: give --intent FILE or configure grants (--jwks ...) carrying an intent claim');
    return refuseAll(input, writeClient, 'ERR_GRANT_INTENT', 'no approved intent for this session');
  }

  const child = spawn(o.command, [...o.args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: serverEnv(o.env ?? process.env),
  });
  const session = monitor.open({ intent, ...(identity && { identity }), transport: 'stdio' });
  let childExited = false;
  o.runtime.observe.setUpstream(childProbe(child, () => childExited));
  const childDone = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      childExited = true;
      resolve(
        code ??
          (signal
            ? 128 +
              (({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 } as Record<string, number>)[signal] ?? 1)
            : 1),
      );
    });
    child.on('error', (e) => {
      log(`cannot start ${o.command}: ${e.message}`);
      childExited = true;
      resolve(127);
    });
  });
  // A write racing the server's death fails with EPIPE: its exit is handled (pending calls answered) below.
  child.stdin.on('error', () => undefined);
  // Back-pressure: while the server is not reading what it is sent, the client is not read either (its
  // messages would otherwise pile up here without bound). Writes to the client are synchronous on a pipe.
  const serverBatches = new BatchAnswers((answers) => writeServer(answers, true));
  const writeServer = (m: unknown, assembled = false) => {
    if (childExited || !child.stdin.writable) return;
    if (!assembled && serverBatches.take(m)) return;
    if (!child.stdin.write(`${typeof m === 'string' ? m : JSON.stringify(m)}\n`) && !input.isPaused()) {
      input.pause();
      child.stdin.once('drain', () => input.resume());
    }
  };
  const stopChild = () => {
    if (childExited) return;
    child.kill('SIGTERM');
    setTimeout(() => {
      if (!childExited) child.kill('SIGKILL');
    }, 2000).unref();
  };
  const asker = new Asker(session, writeClient);
  session.attach({
    deliver: (dir, m) => (dir === 'c2s' ? writeServer(m) : writeClient(m)),
    close: stopChild,
    ask: (method, params, signal) => asker.ask(method, params, signal),
  });

  // Each direction is processed in order: a frame is decided before the next one is looked at.
  const queues = directionQueues((dir, e) => log(`relay error (${dir}): ${e.message}`));
  const handle = (dir: Direction, text: string, bytes: number) => {
    // The client's answer to an approval prompt bypasses the queue (the queue may be waiting on it).
    if (dir === 'c2s' && asker.takeText(text)) return;
    void queues[dir].push(async () => {
      const r = await relayFrame(
        session,
        dir,
        { text, bytes },
        dir === 'c2s' ? clientBatches : serverBatches,
        o.runtime.era,
      );
      const toSender = dir === 'c2s' ? writeClient : writeServer;
      const toReceiver = dir === 'c2s' ? writeServer : writeClient;
      for (const a of r.answers) toSender(a);
      for (const f of r.forward) toReceiver(f);
    });
  };
  const oversize = (dir: Direction, head: string, bytes: number) => {
    void queues[dir].push(async () => {
      const r = await relayOversize(session, dir, head, bytes);
      for (const a of r.answers) (dir === 'c2s' ? writeClient : writeServer)(a);
      if (r.forward !== undefined) (dir === 'c2s' ? writeServer : writeClient)(r.forward);
    });
  };
  const fromClient = new LineFramer(
    max,
    (t, b) => handle('c2s', t, b),
    (h, b) => oversize('c2s', h, b),
  );
  const fromServer = new LineFramer(
    max,
    (t, b) => handle('s2c', t, b),
    (h, b) => oversize('s2c', h, b),
  );
  input.on('data', (c: Buffer) => fromClient.push(c));
  input.on('end', () => {
    fromClient.end();
    void queues.c2s.drained().then(() => child.stdin.end());
  });
  child.stdout.on('data', (c: Buffer) => fromServer.push(c));

  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (sig: NodeJS.Signals) => () => {
    if (!childExited) child.kill(sig);
  };
  const handlers = signals.map((sig) => [sig, forward(sig)] as const);
  if (input === process.stdin) for (const [sig, h] of handlers) process.on(sig, h);

  const code = await childDone;
  fromServer.end();
  await queues.s2c.drained();
  await endedByUpstream(
    session,
    `intentguard: the server exited (code ${code}) before answering`,
    `ended by upstream (exit ${code})`,
    writeClient,
  );
  for (const [sig, h] of handlers) process.off(sig, h);
  input.removeAllListeners('data');
  return code;
}

/** No session can be opened: answer every request with the reason, then exit 1 when the client leaves. */
function refuseAll(
  input: Readable,
  write: (m: unknown) => void,
  code: string,
  message: string,
): Promise<number> {
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
