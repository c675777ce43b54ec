import type { ErrorCode } from '../errors.js';

/**
 * Why a message is refused before any rule sees it: the JSON-RPC code the specification names, the HTTP
 * status it requires, intentguard's stable `data.code`, and a message. Pure data; the carrier answers it.
 */
export interface EraRefusal {
  readonly rpc: number;
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Build a refusal (status 400 unless given). */
export const refusal = (
  rpc: number,
  code: ErrorCode,
  message: string,
  data?: Record<string, unknown>,
  status = 400,
): EraRefusal => ({ rpc, status, code, message: `intentguard: ${message}`, ...(data && { data }) });
