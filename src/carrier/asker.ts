import { randomUUID } from 'node:crypto';
import { isObject, request } from '../jsonrpc/message.js';
import type { Direction } from '../model/events.js';

/** What the asker needs of a session: to record the prompts it sends and the answers it takes. */
export interface AskerSession {
  record(dir: Direction, message: unknown): Promise<void>;
}

/** Sends one prompt to the client (may await a write). */
export type SendPrompt = (prompt: ReturnType<typeof request>) => void | Promise<void>;

const PREFIX = 'intentguard-';

/**
 * The one client-prompt protocol every transport shares: intentguard's own requests to the client
 * (approval prompts, elicitation). `ask` records the prompt, sends it and waits for its answer (or the
 * signal's abort); `take` recognises the client's answer by intentguard's id, records it and consumes
 * it, so it never reaches the server. Ids are `intentguard-<uuid>`: a client cannot guess one that is
 * waiting.
 * @example const asker = new Asker(session, (m) => write(JSON.stringify(m))); if (!asker.takeText(frame)) relay(frame);
 */
export class Asker {
  readonly #waiting = new Map<string, (answer: unknown) => void>();

  constructor(
    private readonly session: AskerSession,
    private readonly send: SendPrompt,
  ) {}

  /** True while a prompt waits for its answer. */
  get waiting(): boolean {
    return this.#waiting.size > 0;
  }

  /**
   * Ask the client: resolves with its answer (a JSON-RPC response), rejects when `signal` aborts.
   * `send` overrides the asker's own sender for this one prompt (a stream chosen by the caller).
   */
  async ask(
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    send: SendPrompt = this.send,
  ): Promise<unknown> {
    const id = `${PREFIX}${randomUUID()}`;
    const prompt = request(id, method, params);
    const answer = new Promise<unknown>((resolve, reject) => {
      this.#waiting.set(id, resolve);
      signal.addEventListener(
        'abort',
        () => {
          this.#waiting.delete(id);
          reject(new Error('approval prompt aborted'));
        },
        { once: true },
      );
    });
    await this.session.record('s2c', prompt);
    await send(prompt);
    return answer;
  }

  /** Is this parsed client message the answer to one of our prompts? Then it is recorded and consumed. */
  take(message: unknown): boolean {
    if (this.#waiting.size === 0 || !isObject(message)) return false;
    const id = message.id;
    if (typeof id !== 'string' || !('result' in message || 'error' in message)) return false;
    const resolve = this.#waiting.get(id);
    if (!resolve) return false;
    this.#waiting.delete(id);
    void this.session.record('c2s', message);
    resolve(message);
    return true;
  }

  /** {@link take} on an unparsed frame: parsed only while a prompt waits and the frame names our id. */
  takeText(text: string): boolean {
    if (this.#waiting.size === 0 || !text.includes(PREFIX)) return false;
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      return false;
    }
    return this.take(m);
  }
}
