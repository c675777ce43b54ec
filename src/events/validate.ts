import { IntentGuardError, type ErrorCode } from '../errors.js';
import type { ValidMessage } from '../model/events.js';
import { methodProblem } from './methods.js';
import { isObject, isRequestId } from '../jsonrpc/message.js';

const fail = (code: ErrorCode, message: string): never => {
  throw new IntentGuardError(code, message);
};

/**
 * Classify and check one JSON-RPC 2.0 message; throws {@link IntentGuardError} with a specific code.
 * @example classifyMessage({ jsonrpc: '2.0', id: 1, method: 'ping' }).kind // 'request'
 */
export function classifyMessage(msg: unknown): ValidMessage {
  if (!isObject(msg))
    return fail(
      'ERR_JSONRPC_INVALID',
      `expected a JSON object, got ${msg === null ? 'null' : Array.isArray(msg) ? 'array' : typeof msg}`,
    );
  if (msg.jsonrpc !== '2.0')
    return fail('ERR_JSONRPC_VERSION', `jsonrpc must be "2.0", got ${JSON.stringify(msg.jsonrpc)}`);
  // Members are read as values: one holding `undefined` is absent, as it is in the JSON the message
  // stands for (JSON.stringify drops it). Plain reads also stay fast on objects of many shapes.
  const { method, result, error, id } = msg;
  if (method !== undefined) {
    if (typeof method !== 'string' || method.length === 0)
      return fail('ERR_JSONRPC_METHOD', 'method must be a non-empty string');
    const problem = methodProblem(method);
    if (problem !== undefined)
      return fail(
        'ERR_METHOD_NOT_CANONICAL',
        `method ${JSON.stringify(method.slice(0, 100))} refused: ${problem}`,
      );
    const params = msg.params;
    if (params !== undefined && typeof params !== 'object') {
      return fail('ERR_JSONRPC_PARAMS', `params must be an object or array, got ${typeof params}`);
    }
    if (params === null) return fail('ERR_JSONRPC_PARAMS', 'params must be an object or array, got null');
    if (result !== undefined || error !== undefined)
      return fail('ERR_JSONRPC_INVALID', 'a message cannot carry both method and result/error');
    if (id === undefined) return { kind: 'notification', method, params };
    if (!isRequestId(id))
      return fail('ERR_JSONRPC_ID', `request id must be a string or integer, got ${JSON.stringify(id)}`);
    return { kind: 'request', id, method, params };
  }
  if (result !== undefined) {
    if (error !== undefined)
      return fail('ERR_JSONRPC_INVALID', 'a response cannot carry both result and error');
    if (!isRequestId(id))
      return fail('ERR_JSONRPC_ID', `response id must be a string or integer, got ${JSON.stringify(id)}`);
    return { kind: 'response', id, result };
  }
  if (error !== undefined) {
    if (
      !isObject(error) ||
      typeof error.code !== 'number' ||
      !Number.isInteger(error.code) ||
      typeof error.message !== 'string'
    ) {
      return fail('ERR_JSONRPC_ERROR_OBJECT', 'error must be {code: integer, message: string, data?}');
    }
    if (id !== null && !isRequestId(id))
      return fail('ERR_JSONRPC_ID', `error id must be a string, integer or null, got ${JSON.stringify(id)}`);
    return {
      kind: 'error',
      id: id as string | number | null,
      error: error as { code: number; message: string; data?: unknown },
    };
  }
  return fail('ERR_JSONRPC_INVALID', 'message has neither method, result nor error');
}
