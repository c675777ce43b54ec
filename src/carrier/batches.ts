import { isResponse } from '../jsonrpc/message.js';

/**
 * JSON-RPC batches over a message stream (stdio, WebSocket). MCP 2025-06-18 removed batching and the
 * SDK's stdio server drops an array outright, so intentguard never forwards one: each element is
 * decided on its own and the allowed ones travel as single messages. The answers going back to the
 * batch's sender (the server's, intentguard's refusals, a halt's, an exit's) are held here and sent
 * together as one array once every request of the batch has its answer.
 */
interface Batch {
  waiting: number;
  sealed: boolean;
  readonly answers: unknown[];
}

const idKey = (id: unknown): string => `${typeof id}:${String(id)}`;

/** The ids of the requests among a batch's elements (what must be answered before the batch is). */
export function batchRequestIds(elements: readonly unknown[]): Array<string | number> {
  const ids: Array<string | number> = [];
  for (const m of elements) {
    const x = m as { id?: unknown; method?: unknown } | null;
    if (
      typeof x?.method === 'string' &&
      (typeof x.id === 'string' || (typeof x.id === 'number' && Number.isInteger(x.id)))
    )
      ids.push(x.id);
  }
  return ids;
}

/**
 * Batches open towards one peer: `open` one when its batch arrives, pass every message on its way to
 * that peer through `take`, `seal` the batch once all its elements were decided.
 * @example const back = new BatchAnswers((m) => write(JSON.stringify(m))); if (!back.take(m)) write(text);
 */
export class BatchAnswers {
  private readonly waiting = new Map<string, Batch[]>();
  constructor(private readonly send: (answers: unknown[]) => void) {}

  /** A batch arrived whose requests carry these ids. */
  open(ids: readonly (string | number)[]): Batch {
    const batch: Batch = { waiting: ids.length, sealed: false, answers: [] };
    for (const id of ids) {
      const list = this.waiting.get(idKey(id));
      if (list) list.push(batch);
      else this.waiting.set(idKey(id), [batch]);
    }
    return batch;
  }

  /** Every element was decided; `loose`: answers with no id that belong to the batch (invalid elements). */
  seal(batch: Batch, loose: readonly unknown[]): void {
    batch.answers.push(...loose);
    batch.sealed = true;
    this.flush(batch);
  }

  /** A message on its way to the batch's sender: true when it answers an open batch (held here). */
  take(message: unknown): boolean {
    if (this.waiting.size === 0) return false;
    let m = message;
    if (typeof m === 'string') {
      try {
        m = JSON.parse(m);
      } catch {
        return false;
      }
    }
    if (!isResponse(m)) return false;
    const key = idKey(m.id);
    const list = this.waiting.get(key);
    if (!list) return false;
    const batch = list.shift()!;
    if (list.length === 0) this.waiting.delete(key);
    batch.answers.push(m);
    batch.waiting--;
    this.flush(batch);
    return true;
  }

  private flush(batch: Batch): void {
    if (batch.sealed && batch.waiting === 0 && batch.answers.length > 0) this.send(batch.answers.splice(0));
  }
}
