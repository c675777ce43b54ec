import { randomUUID } from 'node:crypto';
import { checkVersionPinned, classifyRequest, isEraRefusal, type RequestEra } from '../era/classify.js';
import { checkRequestHeaders } from '../era/headers.js';
import type { EraRefusal } from '../era/refusal.js';
import { RPC_CODES } from '../errors.js';
import type { SessionHandle } from '../monitor/handle.js';
import type { Approver } from '../model/decision.js';
import { memoryLedger, type RedemptionLedger } from './ledger.js';
import { approvalAnswer, checkPromptCapability, inputRequired, stripOwn, type PromptMode } from './prompt.js';
import {
  argumentsDigest,
  isOwnState,
  isStateRefusal,
  signState,
  verifyState,
  type StateBinding,
} from './state.js';

/** Options of {@link createEraGate}. */
export interface EraGateOptions {
  /** The requestState key ({@link deriveStateKey} of a runtime secret). */
  readonly key: Buffer;
  /** Where redeemed states are remembered; default in memory (give {@link sqliteLedger} to share). */
  readonly ledger?: RedemptionLedger;
  /** The monitor's clock. */
  readonly clock?: () => number;
  /** Lifetime of a requestState; default 5 minutes. */
  readonly ttlMs?: number;
  /** How approvals are asked; default form mode in the client. */
  readonly prompt?: PromptMode;
}

/** What {@link EraGate.admit} decided about one client message. */
type Admission =
  | { readonly answer: unknown; readonly refusal: EraRefusal | { code: string; message: string } }
  | { readonly message: unknown; readonly era: RequestEra };

/**
 * The 2026-07-28 half of a carrier, written once for every transport: era per request, headers against
 * the body, version pinning, and re-authorization over MRTR (basic/patterns/mrtr.mdx). A carrier calls
 * {@link EraGate.admit} on each client message before the monitor sees it, and {@link EraGate.answer}
 * on the monitor's answer to a client request; the monitor's approver is wrapped with
 * {@link EraGate.approver}.
 */
export interface EraGate {
  /** Wrap the monitor's approver: modern sessions are approved only by a redeemed requestState. */
  approver(inner?: Approver): Approver;
  /**
   * Admit one client message: refused (`answer` to send back, nothing forwarded), or the message to
   * observe — with intentguard's own retry material verified and stripped.
   * @param header a request header by lower-case name, over HTTP; undefined on other transports.
   */
  admit(session: SessionHandle, message: unknown, header?: (name: string) => string | undefined): Admission;
  /** Turn the monitor's `reauthorize` refusal of a modern request into intentguard's InputRequiredResult. */
  answer(session: SessionHandle, request: unknown, era: RequestEra, answer: unknown): unknown;
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const errorAnswer = (id: unknown, rpc: number, message: string, data: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id: typeof id === 'string' || typeof id === 'number' ? id : null,
  error: { code: rpc, message, data },
});

/** Create the gate. One per runtime: its per-session state is keyed by intentguard's session id. */
export function createEraGate(options: EraGateOptions): EraGate {
  const clock = options.clock ?? Date.now;
  const ledger = options.ledger ?? memoryLedger();
  const ttlMs = options.ttlMs ?? 300_000;
  const prompt: PromptMode = options.prompt ?? { mode: 'form' };
  /** The protocol version (or `legacy`) each session started with. */
  const pinned = new Map<string, string>();
  /** Redeemed approvals waiting for the monitor's approver: session → `tool\0argsDigest` → their states. */
  const tickets = new Map<string, Map<string, { nonce: string; exp: number }[]>>();

  const bindingOf = (
    session: SessionHandle,
    params: Record<string, unknown>,
    method: string,
  ): StateBinding => {
    const state = session.state();
    return {
      principal: state.identity?.sub ?? 'anonymous',
      session: session.id,
      method,
      tool: typeof params.name === 'string' ? params.name : '',
      args: argumentsDigest(params.arguments),
      intentVersion: state.intent.version,
    };
  };
  const ticketKey = (tool: string, args: string) => `${tool}\u0000${args}`;

  const refuse = (message: unknown, r: EraRefusal): Admission => ({
    answer: errorAnswer((message as { id?: unknown }).id, r.rpc, r.message, {
      code: r.code,
      ...(r.data ?? {}),
    }),
    refusal: r,
  });

  return {
    approver(inner) {
      return async (request) => {
        const byTool = tickets.get(request.session);
        if (!pinned.has(request.session) || pinned.get(request.session) === 'legacy')
          return inner ? inner(request) : false;
        // A modern session: there is no server-initiated prompt in 2026-07-28; only a redeemed state approves.
        const key = ticketKey(request.event.tool ?? '', argumentsDigest(request.event.args));
        const waiting = byTool?.get(key);
        const ticket = waiting?.shift();
        if (!ticket) return false;
        if (waiting!.length === 0) byTool!.delete(key);
        // A fleet: single use is confirmed in the shared ledger (another instance may have redeemed it).
        if (ledger.confirm) return ledger.confirm(ticket.nonce, ticket.exp, clock()).catch(() => false);
        return true;
      };
    },

    admit(session, message, header) {
      if (!isPlain(message) || typeof message.method !== 'string' || !('id' in message))
        return { message, era: { era: 'legacy', unverified: {} } };
      const era = classifyRequest(message, header?.('mcp-protocol-version'));
      if (isEraRefusal(era)) return refuse(message, era);
      const version = era.era === 'modern' ? era.version! : 'legacy';
      const first = pinned.get(session.id);
      if (first === undefined) pinned.set(session.id, version);
      else {
        const changed = checkVersionPinned(first, version);
        if (changed) return refuse(message, changed);
      }
      if (era.era === 'legacy') return { message, era };
      if (header) {
        const h = checkRequestHeaders(message as { method: string; params?: unknown }, header);
        if (h) return refuse(message, h);
      }
      const params = isPlain(message.params) ? message.params : {};
      if (!isOwnState(params.requestState)) return { message, era };
      // intentguard's own retry: verified and redeemed here, and never forwarded with its state in it.
      const binding = bindingOf(session, params, message.method);
      const v = verifyState(options.key, params.requestState, binding, clock(), ledger);
      if (isStateRefusal(v))
        return {
          answer: errorAnswer(message.id, RPC_CODES.REFUSED, v.message, { code: v.code }),
          refusal: v,
        };
      if (approvalAnswer(params, prompt) === 'approved') {
        const byTool = tickets.get(session.id) ?? new Map<string, { nonce: string; exp: number }[]>();
        const key = ticketKey(binding.tool, binding.args);
        byTool.set(key, [...(byTool.get(key) ?? []), { nonce: v.nonce, exp: v.exp }]);
        tickets.set(session.id, byTool);
      }
      return { message: { ...message, params: stripOwn(params) }, era };
    },

    answer(session, request, era, answer) {
      if (era.era !== 'modern' || !isPlain(request) || request.method !== 'tools/call') return answer;
      const error = isPlain(answer) && isPlain(answer.error) ? answer.error : undefined;
      const data = error && isPlain(error.data) ? error.data : undefined;
      if (data?.code !== 'ERR_REAUTH_REQUIRED') return answer;
      // Redeemed tickets the monitor did not use (the call was denied for another reason) expire with it.
      const missing = checkPromptCapability(era.unverified.clientCapabilities, prompt);
      if (missing)
        return errorAnswer(request.id, missing.rpc, missing.message, {
          code: missing.code,
          ...(missing.data ?? {}),
          decision: data.decision,
          rules: data.rules,
        });
      const params = isPlain(request.params) ? request.params : {};
      const { state } = signState(
        options.key,
        bindingOf(session, params, request.method),
        randomUUID(),
        clock(),
        ttlMs,
      );
      const reason = typeof data.reason === 'string' ? data.reason : 'the call needs approval';
      return {
        jsonrpc: '2.0',
        id: request.id,
        result: inputRequired(`intentguard: approve ${String(params.name)}? ${reason}`, state, prompt),
      };
    },
  };
}
