import { randomUUID } from 'node:crypto';
import { checkVersionPinned, classifyRequest, isEraRefusal, type RequestEra } from '../era/classify.js';
import { checkRequestHeaders } from '../era/headers.js';
import { META } from '../era/keys.js';
import type { EraRefusal } from '../era/refusal.js';
import { RPC_CODES } from '../errors.js';
import type { SessionHandle } from '../monitor/handle.js';
import type { AdoptedApproval, ApprovalRequest, Approver, Outcome } from '../model/decision.js';
import { memoryLedger, type RedemptionLedger } from './ledger.js';
import { createdTask, memoryTaskOwners, ownTasksOnly, TASK_METHODS, type TaskOwners } from './tasks.js';
import { approvalIdFor } from '../model/approval-id.js';
import type { SessionEvent } from '../model/events.js';
import { approvalAnswer, checkPromptCapability, inputRequired, stripOwn, type PromptMode } from './prompt.js';
import { urlApprovals, type ApprovalPage, type UrlApprovalState } from './url-approvals.js';
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
  /** Who created each task; default in memory (give {@link sqliteTaskOwners} to share). */
  readonly tasks?: TaskOwners;
  /**
   * An approval page (the console): a held call of a modern request is then asked in URL mode pointing
   * at its page, held as an approval the page's approvers decide (the wrapped approver records it and
   * waits for them), and its retry released only once they approved — the client's own answer to the
   * elicitation never approves.
   */
  readonly page?: ApprovalPage;
  /** How long an approval on the page may wait for its decision; default 60 s. */
  readonly approvalTimeoutMs?: number;
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
  /**
   * Wrap the monitor's approver: modern sessions are approved only by a redeemed requestState.
   * `adopt`: told of an approval another instance held, released here by the shared table, with the
   * call it released, so its scope (session, intent) applies here too (the runtime's approvals).
   */
  approver(
    inner?: Approver,
    adopt?: (request: ApprovalRequest, decided: AdoptedApproval) => Promise<void>,
  ): Approver;
  /**
   * Admit one client message: refused (`answer` to send back, nothing forwarded), or the message to
   * observe — with intentguard's own retry material verified and stripped.
   * @param header a request header by lower-case name, over HTTP; undefined on other transports.
   * @returns synchronously, but when a shared store over the network (a fleet) must answer: a task
   * method's owner, or the approval of a page's retry that another instance held; then a promise.
   */
  admit(
    session: SessionHandle,
    message: unknown,
    header?: (name: string) => string | undefined,
  ): Admission | Promise<Admission>;
  /** Turn the monitor's `reauthorize` refusal of a modern request into intentguard's InputRequiredResult. */
  answer(session: SessionHandle, request: unknown, era: RequestEra, answer: unknown): unknown;
  /**
   * After the monitor decided a server-to-client message: a task it creates is remembered as this
   * session's owner's; the `inputRequests` of a server's own MRTR round (an `input_required` result, or
   * a task waiting for input) are shown to the monitor as the server requests they stand for, so the
   * rules on server requests see them — one refused withholds the result (the client gets an error).
   */
  back(session: SessionHandle, outcome: Outcome): Outcome | Promise<Outcome>;
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whose a task is: the agent identity (grant `sub`) when the session has one — the same agent may poll
 * its task from a new session or connection — else the session itself.
 */
const ownerOf = (session: SessionHandle): string => {
  const sub = session.state().identity?.sub;
  return sub !== undefined ? `sub:${sub}` : `session:${session.id}`;
};

/** The `inputRequests` of a server's result: an `input_required` result, or a task waiting for input. */
const inputRequestsOf = (result: Record<string, unknown>): Record<string, unknown> | undefined => {
  const waiting =
    result.resultType === 'input_required' ||
    (result.status === 'input_required' && typeof result.taskId === 'string');
  return waiting && isPlain(result.inputRequests) ? result.inputRequests : undefined;
};

const errorAnswer = (id: unknown, rpc: number, message: string, data: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id: typeof id === 'string' || typeof id === 'number' ? id : null,
  error: { code: rpc, message, data },
});

/** One redeemed approval waiting to be used. */
interface Ticket {
  readonly nonce?: string;
  readonly exp?: number;
  /**
   * A URL-mode approval it releases: used once across every process sharing the ledger (its id is
   * redeemed like a nonce, until `exp`, past the last state that could still name it).
   */
  readonly approval?: { readonly id: string; readonly exp: number };
  /** Read from the shared table (another instance held it): how it was decided, to adopt here. */
  readonly adopted?: AdoptedApproval;
}

/** The ledger key of a URL-mode approval used once (nonces are base64url: no collision). */
const approvalUse = (id: string) => `approval:${id}`;

/** Create the gate. One per runtime: its per-session state is keyed by intentguard's session id. */
export function createEraGate(options: EraGateOptions): EraGate {
  const clock = options.clock ?? Date.now;
  const ledger = options.ledger ?? memoryLedger();
  const ttlMs = options.ttlMs ?? 300_000;
  const prompt: PromptMode = options.prompt ?? { mode: 'form' };
  const approvalTimeoutMs = options.approvalTimeoutMs ?? 60_000;
  const onPage = options.page ? urlApprovals(approvalTimeoutMs, clock) : undefined;
  /** How one approval is asked: on its page when one is serving, else as configured. */
  const promptFor = (approvalId: string): PromptMode => {
    const url = options.page?.url(approvalId);
    return url !== undefined ? { mode: 'url', url } : prompt;
  };
  /** The clientCapabilities a modern request declared in its own `_meta`. */
  const capsOf = (event: SessionEvent): Record<string, unknown> | undefined => {
    const params = isPlain(event.raw) && isPlain(event.raw.params) ? event.raw.params : undefined;
    const meta = params && isPlain(params._meta) ? params._meta : undefined;
    const caps = meta?.[META.clientCapabilities];
    return isPlain(caps) ? caps : undefined;
  };
  const tasks = options.tasks ?? memoryTaskOwners();
  /** The protocol version (or `legacy`) each session started with. */
  const pinned = new Map<string, string>();
  /**
   * Redeemed approvals waiting for the monitor's approver: session → `tool\0argsDigest` → tickets, each
   * with the nonce of the state that approved it (a fleet's ledger confirms it before it is used; none
   * for the continuation of a call already approved).
   */
  const tickets = new Map<string, Map<string, Ticket[]>>();
  /**
   * Calls intentguard approved, by session: when the server answers such a call with its own
   * `input_required`, the client's continuation (same tool and arguments, the server's requestState)
   * is the approved call still, not a new one to ask about.
   */
  const approved = new Map<string, Map<string | number, string>>();
  /** Synthetic ids of the server requests an upstream `inputRequests` stands for. */
  let inputSeq = 0;
  const addTicket = (session: string, key: string, ticket: Ticket = {}) => {
    const byTool = tickets.get(session) ?? new Map<string, Ticket[]>();
    byTool.set(key, [...(byTool.get(key) ?? []), ticket]);
    tickets.set(session, byTool);
  };
  /** A session's entries go when it ends (a long-running proxy sees many sessions). */
  const track = (session: SessionHandle) => {
    void session.whenEnded().then(() => {
      pinned.delete(session.id);
      tickets.delete(session.id);
      approved.delete(session.id);
    });
  };

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
  /** Redeem `key` here, then (a fleet) in the shared ledger: true only the first time anywhere. */
  const usedOnce = async (key: string, exp: number): Promise<boolean> => {
    if (!ledger.redeem(key, exp, clock())) return false;
    return ledger.confirm ? ledger.confirm(key, exp, clock()).catch(() => false) : true;
  };

  const refuse = (message: unknown, r: EraRefusal): Admission => ({
    answer: errorAnswer((message as { id?: unknown }).id, r.rpc, r.message, {
      code: r.code,
      ...(r.data ?? {}),
    }),
    refusal: r,
  });

  /** The rest of {@link EraGate.admit} once pinned (and a task method's owner checked). */
  const admitRequest = (
    session: SessionHandle,
    message: Record<string, unknown> & { method: string },
    era: RequestEra,
  ): Admission | Promise<Admission> => {
    if (era.era === 'legacy') return { message, era };
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
    const asked = promptFor(v.approval);
    if (asked.mode === 'url') return onTheirPage(session, message, era, params, binding, v);
    const said = approvalAnswer(params, asked);
    if (said === 'approved')
      addTicket(session.id, ticketKey(binding.tool, binding.args), { nonce: v.nonce, exp: v.exp });
    // Declined (or cancelled) ends the round: refused here, not held and asked again in a loop.
    if (said === 'declined')
      return refuse(message, {
        rpc: RPC_CODES.DENIED,
        status: 403,
        code: 'ERR_REAUTH_REQUIRED',
        message: `intentguard: ${binding.tool || message.method} was not approved (the prompt was declined)`,
      });
    return { message: { ...message, params: stripOwn(params) }, era };
  };

  /**
   * The retry of a call asked on the approval page: released only when the page's approvers approved it
   * (the client's `accept` only says the page was opened); denied or expired ends the round; still
   * waiting is asked again — a fresh state for the same approval. An approval this process does not hold
   * (a fleet: another instance held it, and this one took the session over) is read from the shared
   * approvals table.
   */
  const onTheirPage = (
    session: SessionHandle,
    message: Record<string, unknown> & { method: string },
    era: RequestEra,
    params: Record<string, unknown>,
    binding: StateBinding,
    v: { readonly approval: string; readonly nonce: string; readonly exp: number },
  ): Admission | Promise<Admission> => {
    const where = onPage?.state(v.approval) ?? 'unknown';
    const said = approvalAnswer(params, promptFor(v.approval));
    // Past the last state that could still name this approval: signed while it waited, each for ttlMs.
    const useUntil = (until: number | undefined) => Math.max(clock() + approvalTimeoutMs, until ?? 0) + ttlMs;
    const release = (ticket: Ticket): Admission => {
      addTicket(session.id, ticketKey(binding.tool, binding.args), ticket);
      return { message: { ...message, params: stripOwn(params) }, era };
    };
    const settle = (state: UrlApprovalState, until: number | undefined): Admission => {
      if (state === 'approved' && said !== 'declined') {
        onPage?.take(v.approval);
        const approval = { id: v.approval, exp: useUntil(until) };
        return release({ nonce: v.nonce, exp: v.exp, approval });
      }
      if (state === 'pending' && said !== 'declined') {
        const { state: next } = signState(options.key, binding, v.approval, clock(), ttlMs);
        const answer = {
          jsonrpc: '2.0',
          id: message.id,
          result: inputRequired(
            `intentguard: ${binding.tool} is still waiting for an approver on its page`,
            next,
            promptFor(v.approval),
          ),
        };
        return { answer, refusal: { code: 'ERR_REAUTH_REQUIRED', message: 'still waiting for approval' } };
      }
      return refuse(message, {
        rpc: RPC_CODES.DENIED,
        status: 403,
        code: 'ERR_REAUTH_REQUIRED',
        message: `intentguard: ${binding.tool || message.method} was not approved (${said === 'declined' ? 'the prompt was declined' : state === 'denied' ? 'denied or expired on its approval page' : 'its approval is not held here'})`,
      });
    };
    const shared = options.page?.shared;
    if (where !== 'unknown' || !shared || said === 'declined')
      return settle(where, onPage?.until(v.approval));
    // Not held here: what the approvers decided, as the shared table says (a store away: refused).
    const fromTable = async (): Promise<Admission> => {
      const a = await shared(v.approval);
      if (a.state === 'pending')
        return settle((a.expiresAt ?? 0) > clock() ? 'pending' : 'denied', a.expiresAt);
      if (a.state !== 'approved') return settle(a.state, a.expiresAt);
      // Used once across the fleet: the instance that held it may have released it with another state.
      if (!(await usedOnce(approvalUse(v.approval), useUntil(a.expiresAt))))
        return refuse(message, {
          rpc: RPC_CODES.REFUSED,
          status: 403,
          code: 'ERR_REQUEST_STATE_REPLAYED',
          message: `intentguard: requestState names approval ${v.approval}, which was already used`,
        });
      const adopted =
        a.scope === 'session' || a.scope === 'intent'
          ? { id: v.approval, approver: a.approver ?? 'cli', scope: a.scope }
          : undefined;
      return release({ nonce: v.nonce, exp: v.exp, ...(adopted && { adopted }) });
    };
    return fromTable().catch(() => settle('unknown', undefined));
  };

  async function backAsync(
    session: SessionHandle,
    outcome: Outcome,
    fwd: Record<string, unknown>,
    result: Record<string, unknown>,
  ): Promise<Outcome> {
    const event = outcome.event!;
    const now = clock();
    // An approved call's entry lasts until its answer (kept below for a server's own next round).
    const answered = event.id;
    const approvedKey = answered !== undefined ? approved.get(session.id)?.get(answered) : undefined;
    if (answered !== undefined) approved.get(session.id)?.delete(answered);
    const task = createdTask(result);
    if (task && event.kind === 'response' && !TASK_METHODS.has(event.method ?? ''))
      try {
        // Committed before the task id reaches its client (a fleet: every instance then knows its owner).
        await tasks.claim(task.taskId, ownerOf(session), now + task.ttlMs, now);
      } catch (e) {
        return {
          ...outcome,
          forward: errorAnswer(
            fwd.id,
            RPC_CODES.REFUSED,
            `intentguard: result withheld: the task's owner could not be recorded (${(e as Error)?.message ?? String(e)})`,
            { code: 'ERR_STORE' },
          ),
        };
      }
    const requests = inputRequestsOf(result);
    if (!requests) return outcome;
    for (const [key, r] of Object.entries(requests)) {
      const method = isPlain(r) && typeof r.method === 'string' ? r.method : undefined;
      const id = `intentguard-input:${++inputSeq}:${key}`;
      const params = isPlain(r) && isPlain(r.params) ? r.params : {};
      const version = pinned.get(session.id);
      const o = method
        ? await session.observe('s2c', {
            jsonrpc: '2.0',
            id,
            method,
            // Under the session's protocol version: an embedded request of a 2026-07-28 exchange.
            params:
              version && version !== 'legacy'
                ? {
                    ...params,
                    _meta: {
                      ...(isPlain(params._meta) ? params._meta : {}),
                      [META.protocolVersion]: version,
                    },
                  }
                : params,
          })
        : undefined;
      if (o?.forward === undefined) {
        const why = (o?.answer as { error?: { message?: unknown } } | undefined)?.error?.message;
        const halted = session.status !== 'open';
        return {
          ...outcome,
          forward: errorAnswer(
            fwd.id,
            halted ? RPC_CODES.HALTED : RPC_CODES.DENIED,
            `intentguard: the server's input request ${JSON.stringify(key)} was refused${typeof why === 'string' ? `: ${why}` : method ? '' : ': not a request'}`,
            { code: halted ? 'ERR_SESSION_HALTED' : 'ERR_INPUT_REQUEST_DENIED', inputRequest: key },
          ),
        };
      }
      // Carried to the client inside the result: its own entry in the record ends here.
      await session.record('c2s', {
        jsonrpc: '2.0',
        id,
        result: { _meta: { 'io.intentguard/carried': 'inputRequests' } },
      });
    }
    // The server's next round of a call intentguard approved: the client's continuation is that call.
    if (approvedKey !== undefined && result.resultType === 'input_required')
      addTicket(session.id, approvedKey);
    return outcome;
  }

  return {
    approver(inner, adopt) {
      return async (request) => {
        const byTool = tickets.get(request.session);
        if (!pinned.has(request.session) || pinned.get(request.session) === 'legacy')
          return inner ? inner(request) : false;
        // A modern session: there is no server-initiated prompt in 2026-07-28; only a redeemed state approves.
        const key = ticketKey(request.event.tool ?? '', argumentsDigest(request.event.args));
        const waiting = byTool?.get(key);
        const ticket = waiting?.shift();
        if (!ticket) {
          // An approval page: the call is held there (recorded, waiting for its approvers) meanwhile.
          const page = promptFor(approvalIdFor(request.decision));
          if (onPage && inner && page.mode === 'url' && !checkPromptCapability(capsOf(request.event), page))
            return onPage.hold(inner, request);
          return false;
        }
        if (waiting!.length === 0) byTool!.delete(key);
        // A fleet: single use is confirmed in the shared ledger (another instance may have redeemed it).
        if (ticket.nonce !== undefined && ledger.confirm) {
          const mine = await ledger.confirm(ticket.nonce, ticket.exp!, clock()).catch(() => false);
          if (!mine) return false;
        }
        // A page's approval releases one call, whichever state of it (each round signs a fresh one) and
        // whichever process (the one holding it, or one reading the shared table) presents it.
        if (ticket.approval && !(await usedOnce(approvalUse(ticket.approval.id), ticket.approval.exp)))
          return false;
        if (ticket.adopted && adopt) await adopt(request, ticket.adopted).catch(() => undefined);
        const done = approved.get(request.session) ?? new Map<string | number, string>();
        if (request.event.id !== undefined && done.size < 1024) done.set(request.event.id, key);
        approved.set(request.session, done);
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
      if (first === undefined) {
        pinned.set(session.id, version);
        track(session);
      } else {
        const changed = checkVersionPinned(first, version);
        if (changed) return refuse(message, changed);
      }
      const request = message as Record<string, unknown> & { method: string };
      // Over HTTP the headers must mirror the body before anything is decided on either (a task's owner too).
      if (era.era === 'modern' && header) {
        const h = checkRequestHeaders(request, header);
        if (h) return refuse(message, h);
      }
      if (TASK_METHODS.has(request.method)) {
        // A task id is a bearer handle: only its creator (this agent, or this anonymous session) may use it.
        const taskId = isPlain(message.params) ? message.params.taskId : undefined;
        let owner: ReturnType<TaskOwners['ownerOf']>;
        try {
          owner = typeof taskId === 'string' ? tasks.ownerOf(taskId, clock()) : undefined;
        } catch {
          owner = undefined;
        }
        const decide = (found: string | undefined): Admission | Promise<Admission> =>
          found !== ownerOf(session)
            ? refuse(message, {
                rpc: RPC_CODES.DENIED,
                status: 403,
                code: 'ERR_TASK_NOT_OWNED',
                message: `intentguard: task ${JSON.stringify(taskId ?? null)} ${found === undefined ? 'was not created through intentguard for this agent' : 'belongs to another agent or session'}`,
              })
            : admitRequest(session, request, era);
        // A shared store over the network answers later; one that cannot answer refuses (fail closed).
        return owner instanceof Promise ? owner.then(decide, () => decide(undefined)) : decide(owner);
      }
      return admitRequest(session, request, era);
    },

    back(session, outcome) {
      const fwd = outcome.forward;
      if (!isPlain(fwd) || !isPlain(fwd.result) || outcome.event?.dir !== 's2c') return outcome;
      // Most answers are neither a task nor a server's input round: decided here, synchronously.
      const result = fwd.result;
      if (outcome.event.kind === 'response' && outcome.event.method === 'tasks/list') {
        const only = (own: Record<string, unknown>): Outcome =>
          own === result ? outcome : { ...outcome, forward: { ...fwd, result: own } };
        const own = ownTasksOnly(result, ownerOf(session), tasks, clock());
        return own instanceof Promise ? own.then(only) : only(own);
      }
      const answered = outcome.event.id;
      if (
        answered === undefined ||
        (result.resultType === undefined && result.task === undefined && !approved.has(session.id))
      )
        return outcome;
      // A plain result ("complete", as a 2026-07-28 server marks every ordinary answer): neither a task
      // nor an input round, so nothing to wait for — an approved call's entry ends here, synchronously.
      if (createdTask(result) === undefined && inputRequestsOf(result) === undefined) {
        approved.get(session.id)?.delete(answered);
        return outcome;
      }
      return backAsync(session, outcome, fwd, result);
    },

    answer(session, request, era, answer) {
      if (era.era !== 'modern' || !isPlain(request) || request.method !== 'tools/call') return answer;
      const error = isPlain(answer) && isPlain(answer.error) ? answer.error : undefined;
      const data = error && isPlain(error.data) ? error.data : undefined;
      if (data?.code !== 'ERR_REAUTH_REQUIRED') return answer;
      // Redeemed tickets the monitor did not use (the call was denied for another reason) expire with it.
      const approval =
        typeof data.approvalId === 'string'
          ? data.approvalId
          : approvalIdFor({ id: typeof data.decision === 'string' ? data.decision : randomUUID() });
      const asked = promptFor(approval);
      const missing = checkPromptCapability(era.unverified.clientCapabilities, asked);
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
        approval,
        clock(),
        ttlMs,
      );
      const reason = typeof data.reason === 'string' ? data.reason : 'the call needs approval';
      return {
        jsonrpc: '2.0',
        id: request.id,
        result: inputRequired(`intentguard: approve ${String(params.name)}? ${reason}`, state, asked),
      };
    },
  };
}
