import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import { digest } from '../lib/canonical.js';
import type { RedemptionLedger } from './ledger.js';

/**
 * intentguard's own `requestState` for a held call answered over MRTR (basic/patterns/mrtr.mdx, "Server
 * Requirements": state that influences authorization MUST be integrity-protected, and SHOULD bind the
 * principal, a short expiry and the originating request). Format: `ig1.<payload b64url>.<HMAC-SHA256
 * b64url>`; the payload is JSON and only ever read after its MAC verifies.
 */
const STATE_PREFIX = 'ig1.';

/** What a state binds. `args` is the canonical-JSON digest of the call's arguments (src/lib/canonical.ts). */
export interface StateBinding {
  readonly principal: string;
  readonly session: string;
  readonly method: string;
  readonly tool: string;
  readonly args: string;
  readonly intentVersion: number;
}

interface Payload extends StateBinding {
  readonly v: 1;
  readonly exp: number;
  readonly nonce: string;
  /** The approval (pending decision) this state answers. */
  readonly approval: string;
}

/** A verified, redeemed state: the approval it names, for the carrier to settle. */
export interface RedeemedState {
  readonly approval: string;
  readonly exp: number;
  /** The state's nonce (a fleet's shared ledger confirms it once more before the approval is used). */
  readonly nonce: string;
}

/** Why a state was refused. */
export interface StateRefusal {
  readonly code: Extract<
    ErrorCode,
    | 'ERR_REQUEST_STATE_INVALID'
    | 'ERR_REQUEST_STATE_EXPIRED'
    | 'ERR_REQUEST_STATE_REPLAYED'
    | 'ERR_REQUEST_STATE_MISMATCH'
  >;
  readonly message: string;
}

/**
 * Derive the state key from a runtime secret (the store's audit key, or any ≥ 16-byte secret) with
 * HKDF-SHA256 under a label of its own, so the key never doubles as the audit key.
 */
export function deriveStateKey(secret: Uint8Array): Buffer {
  if (secret.length < 16) throw new RangeError('the requestState secret needs at least 16 bytes');
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'intentguard/mrtr-request-state/v1', 32));
}

/** The digest that binds a call's arguments (canonical JSON, so key order does not matter). */
export const argumentsDigest = (args: unknown): string => digest(args ?? {}, 64);

const mac = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest();

/** Sign a new state for one held call. `ttlMs` bounds the replay window (the spec's "short expiry"). */
export function signState(
  key: Buffer,
  binding: StateBinding,
  approval: string,
  now: number,
  ttlMs: number,
): { readonly state: string; readonly exp: number } {
  const payload: Payload = {
    v: 1,
    ...binding,
    approval,
    exp: now + ttlMs,
    nonce: randomBytes(16).toString('base64url'),
  };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return { state: `${STATE_PREFIX}${body}.${mac(key, body).toString('base64url')}`, exp: payload.exp };
}

/** True when a requestState is one of intentguard's own (by prefix); anything else belongs upstream. */
export const isOwnState = (state: unknown): state is string =>
  typeof state === 'string' && state.startsWith(STATE_PREFIX);

const refuse = (code: StateRefusal['code'], message: string): StateRefusal => ({
  code,
  message: `intentguard: requestState ${message}`,
});

const parse = (key: Buffer, state: string): Payload | StateRefusal => {
  const rest = state.slice(STATE_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || rest.indexOf('.', dot + 1) !== -1)
    return refuse('ERR_REQUEST_STATE_INVALID', 'is malformed');
  const body = rest.slice(0, dot);
  const tag = rest.slice(dot + 1);
  const given = Buffer.from(tag, 'base64url');
  const want = mac(key, body);
  // The tag must be the canonical encoding too: base64url decoding is lenient, and a state has one spelling.
  if (given.length !== want.length || !timingSafeEqual(given, want) || given.toString('base64url') !== tag)
    return refuse('ERR_REQUEST_STATE_INVALID', 'does not verify (altered, or signed by another key)');
  try {
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    if (p.v !== 1 || typeof p.exp !== 'number' || typeof p.nonce !== 'string') throw new Error('shape');
    return p;
  } catch {
    return refuse('ERR_REQUEST_STATE_INVALID', 'has a payload of an unknown shape');
  }
};

const BOUND: readonly (keyof StateBinding)[] = [
  'principal',
  'session',
  'method',
  'tool',
  'args',
  'intentVersion',
];

/**
 * Verify a retry's state against the retry itself, then redeem it (single-use): the MAC first, then
 * every bound field against `expected`, then the expiry, and last the ledger — so an altered, foreign or
 * expired state never burns a nonce, and a state redeemed once is refused ever after.
 */
export function verifyState(
  key: Buffer,
  state: string,
  expected: StateBinding,
  now: number,
  ledger: RedemptionLedger,
): RedeemedState | StateRefusal {
  const p = parse(key, state);
  if ('code' in p) return p;
  const differs = BOUND.filter((k) => p[k] !== expected[k]);
  if (differs.length > 0)
    return refuse('ERR_REQUEST_STATE_MISMATCH', `was issued for another ${differs.join(', ')}`);
  if (now >= p.exp) return refuse('ERR_REQUEST_STATE_EXPIRED', `expired ${now - p.exp} ms ago`);
  if (!ledger.redeem(p.nonce, p.exp, now))
    return refuse('ERR_REQUEST_STATE_REPLAYED', 'was already redeemed');
  return { approval: p.approval, exp: p.exp, nonce: p.nonce };
}

/** True when {@link verifyState} refused. */
export const isStateRefusal = (v: RedeemedState | StateRefusal): v is StateRefusal => 'code' in v;
