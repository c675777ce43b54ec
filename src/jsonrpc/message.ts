/**
 * JSON-RPC 2.0 message guards and builders: the one place that knows what a request, a notification
 * and a response look like on the wire, and the one way intentguard builds an error answer. Imports
 * nothing from the rest of intentguard, so every layer may use it.
 */

/** A JSON-RPC id intentguard can correlate: a string or an integer (`null`, fractions, objects are not). */
export type RequestId = string | number;

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for a usable id: a string or an integer. */
export const isRequestId = (id: unknown): id is RequestId =>
  typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id));

/** A message's usable id, or undefined when it has none (absent, null, fractional, an object). */
export const idOf = (m: unknown): RequestId | undefined => {
  const id = (m as { id?: unknown } | null)?.id;
  return isRequestId(id) ? id : undefined;
};

/** A request with a usable id: one that is owed an answer. */
export const isRequest = (m: unknown): m is { id: RequestId; method: string; params?: unknown } =>
  isObject(m) && typeof m.method === 'string' && isRequestId(m.id);

/** A response (a result or an error, no method); its id is whatever the sender put there. */
export const isResponse = (m: unknown): m is { id: unknown } =>
  isObject(m) && m.method === undefined && ('result' in m || 'error' in m);

/** A JSON-RPC error answer as intentguard sends it. */
export interface ErrorAnswer {
  readonly jsonrpc: '2.0';
  readonly id: RequestId | null;
  readonly error: { readonly code: number; readonly message: string; readonly data: Record<string, unknown> };
}

/**
 * The one error-answer builder: `id` null when no request is known (a refusal before parsing, an
 * empty batch), `data.code` the stable ERR_* code the caller switches on.
 * @example errorAnswer(7, -32001, 'intentguard: ERR_SESSION_HALTED: halted', { code: 'ERR_SESSION_HALTED' })
 */
export const errorAnswer = (
  id: RequestId | null | undefined,
  code: number,
  message: string,
  data: Record<string, unknown>,
): ErrorAnswer => ({ jsonrpc: '2.0', id: id ?? null, error: { code, message, data } });

/** A JSON-RPC request as intentguard sends it (the prompts it asks a client). */
export const request = (id: RequestId, method: string, params: unknown) => ({
  jsonrpc: '2.0' as const,
  id,
  method,
  params,
});
