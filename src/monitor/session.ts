import { firstValueFrom, from, map, race, timer } from '../lib/rx.js';
import { RPC_CODES, type ErrorCode } from '../errors.js';
import type { Direction, SessionEvent } from '../model/events.js';
import { MAX_DEPTH, SizeError, checkDepth, jsonSize } from '../events/size.js';
import { classifyMessage } from '../events/validate.js';
import { errorAnswer, idOf, isRequest } from '../jsonrpc/message.js';
import type { SessionCore, SessionEndpoint, SessionHandle } from './handle.js';
import type { ResolvedMonitorOptions } from './options.js';
import { Submission, type Step } from './submission.js';
import { opposite, pendingKey, withStatus } from './state.js';
import { ambiguity } from '../events/ambiguity.js';
import type { Incoming, PendingKey, SessionState, SessionStatus } from '../model/session.js';
import type { Decision, Outcome } from '../model/decision.js';
import type { Intent } from '../model/intent.js';
import {
  TOOLS_LIST_CHANGED,
  effectiveVisibility,
  filterToolsList,
  isToolsListAnswer,
  offerChanged,
} from '../visibility/visibility.js';
import { approvalIdFor, heldForApproval } from '../model/approval-id.js';

interface CreateSessionInit {
  state: SessionState;
  policyState: unknown;
  options: ResolvedMonitorOptions;
  submit(sub: Submission): void;
  onEnd(final: SessionState): void;
  /** True while something consumes the events: messages are then serialized once, when measured. */
  serialize(): boolean;
}

const isStep = (v: Step | Promise<Step>): v is Step => !(v instanceof Promise);

/** An invalid event whose body was not kept: its raw is the stand-in {@link identifying} made. */
const bodyDropped = (event: SessionEvent): boolean => {
  if (event.kind !== 'invalid') return false;
  const raw = event.raw as { oversize?: unknown; unserializable?: unknown } | null;
  return raw?.oversize === true || raw?.unserializable === true;
};

/** What identifies a message (id, method) and nothing else: stands in for a body that is not kept. */
function identifying(raw: unknown, mark: Record<string, true>): Record<string, unknown> {
  const id = idOf(raw);
  const method = (raw as { method?: unknown } | null)?.method;
  return {
    ...mark,
    ...(typeof method === 'string' && { method: method.slice(0, 200) }),
    ...(id !== undefined && { id }),
  };
}

function measure(
  dir: Direction,
  time: number,
  raw: unknown,
  bytes: number | undefined,
  max: number,
  known: string | undefined,
  serialize: boolean,
): Incoming {
  let size = bytes;
  let text = known;
  if (size === undefined) {
    try {
      if (serialize) {
        // The events are consumed (the recorder): serialize once, here, and count that text's bytes,
        // rather than walk the message now and serialize it again later.
        text ??= JSON.stringify(raw);
        if (text === undefined) throw new SizeError(`${typeof raw} is not a JSON value`);
        size = Buffer.byteLength(text);
        // Nesting deeper than the limit needs at least two characters a level: only long texts can.
        if (text.length >= 2 * MAX_DEPTH) checkDepth(raw);
      } else {
        size = jsonSize(raw, max);
      }
    } catch (e) {
      // Keep only what identifies the message, so a request still gets its error answer.
      return {
        dir,
        time,
        raw: identifying(raw, { unserializable: true }),
        bytes: 0,
        fault: { code: 'ERR_JSONRPC_INVALID', message: `not representable as JSON: ${(e as Error).message}` },
      };
    }
  }
  if (size > max) {
    return {
      // Keep only what identifies the message; the oversized body is not retained.
      dir,
      time,
      raw: identifying(raw, { oversize: true }),
      bytes: size,
      fault: {
        code: 'ERR_MESSAGE_TOO_LARGE',
        message: `message of ${size} bytes exceeds the ${max}-byte limit`,
      },
    };
  }
  if (bytes !== undefined && size >= 2 * MAX_DEPTH && typeof raw === 'object' && raw !== null) {
    // Read off the wire, the size was known without a walk; nesting is still limited (only long texts can be deep).
    try {
      checkDepth(raw);
    } catch (e) {
      return {
        dir,
        time,
        raw: identifying(raw, { unserializable: true }),
        bytes: size,
        fault: { code: 'ERR_JSONRPC_INVALID', message: `not accepted: ${(e as Error).message}` },
      };
    }
  }
  // Bytes two parsers read differently (a key twice, keys equal but for case) are refused: the monitor
  // would decide on one reading while the peer acts on another (src/events/ambiguity.ts).
  const unclear = typeof raw === 'object' && raw !== null ? ambiguity(raw, known) : undefined;
  if (unclear !== undefined)
    return { dir, time, raw, bytes: size, text, fault: { code: 'ERR_JSON_AMBIGUOUS', message: unclear } };
  try {
    // One object shape for every valid message keeps the reducer's reads monomorphic.
    return {
      dir,
      time,
      raw,
      bytes: size,
      text,
      message: classifyMessage(raw),
      fault: undefined,
      synthetic: undefined,
      control: undefined,
    };
  } catch (e) {
    const err = e as { code?: string; message: string };
    return {
      dir,
      time,
      raw,
      bytes: size,
      text,
      fault: { code: err.code ?? 'ERR_JSONRPC_INVALID', message: err.message },
    };
  }
}

function rpcCodeFor(decision: Decision): { rpc: number; code: ErrorCode | string } {
  const first = decision.findings.find((f) => f.action === decision.action) ?? decision.findings[0];
  if (first?.rule === 'core/invalid-message') {
    return {
      rpc: first.code === 'ERR_MESSAGE_TOO_LARGE' ? RPC_CODES.REFUSED : RPC_CODES.INVALID_REQUEST,
      code: first.code ?? 'ERR_JSONRPC_INVALID',
    };
  }
  if (first?.rule === 'core/policy-failure')
    return { rpc: RPC_CODES.MONITOR_FAILURE, code: first.code ?? 'ERR_POLICY_FAILED' };
  if (first?.code && first.rule.startsWith('core/')) return { rpc: RPC_CODES.REFUSED, code: first.code };
  // The credential itself (expired, revoked): say so, so the agent knows a fresh grant is what it needs.
  if (first?.code && first.rule.startsWith('identity/')) return { rpc: RPC_CODES.DENIED, code: first.code };
  // A tool the session was not offered: the agent is told it is hidden, not that it may ask again.
  if (first?.rule === 'intent/tool-hidden') return { rpc: RPC_CODES.DENIED, code: 'ERR_TOOL_HIDDEN' };
  return {
    rpc: RPC_CODES.DENIED,
    code: decision.action === 'reauthorize' ? 'ERR_REAUTH_REQUIRED' : 'ERR_CALL_DENIED',
  };
}

/** Build the error `data` every intentguard refusal carries. */
function refusalData(decision: Decision, code: string): Record<string, unknown> {
  const enforcing = decision.findings.filter((f) => f.action === decision.action);
  return {
    code,
    decision: decision.id,
    session: decision.session,
    action: decision.action,
    rules: enforcing.map((f) => f.rule),
    reason: enforcing.map((f) => f.reason).join('; '),
  };
}

export function createSession(init: CreateSessionInit): SessionCore {
  const { options: opts } = init;
  // A session restored from a record that says it was halted starts (and stays) halted.
  let status: SessionStatus = init.state.status;
  let endpoint: SessionEndpoint | undefined;
  let halting: Promise<void> | undefined;
  const answeredByHalt = new Set<PendingKey>();
  const visibility = (intent: Intent) => effectiveVisibility(intent, opts.visibility, opts.mode);

  /**
   * Push one message into the decision pipeline. When the pipeline is idle and the policies answer
   * synchronously, the step comes back synchronously (no promise, no microtask hop on the hot path).
   */
  const submitNow = (incoming: Incoming): Step | Promise<Step> => {
    const sub = new Submission(core, incoming);
    init.submit(sub);
    return (
      sub.step ??
      new Promise<Step>((resolve) => {
        sub.waiter = resolve;
      })
    );
  };
  const submit = async (incoming: Incoming): Promise<Step> => submitNow(incoming);

  /** Show the monitor intentguard's own message; `answers`: the seq of the refused message it answers. */
  const observeSynthetic = (dir: Direction, message: unknown, answers?: number): Promise<Step> =>
    submit({
      dir,
      raw: message,
      bytes: 0,
      time: opts.clock(),
      message: classifyMessage(message),
      synthetic: true,
      answers,
    });

  /** Refuse a message: requests get an error answer (itself observed); others are dropped. */
  const refuse = async (event: SessionEvent, decision: Decision): Promise<Outcome> => {
    const { rpc, code } = rpcCodeFor(decision);
    const data = refusalData(decision, code);
    // A call refused after being held names its approval, so the agent's operator can find it.
    if (heldForApproval(opts.mode, decision.action, event.kind, opts.approver))
      data.approvalId = approvalIdFor(decision);
    const message = `intentguard: ${data.reason || decision.action}`;
    const id = event.id ?? idOf(event.raw);
    if (
      (event.kind === 'request' || (event.kind === 'invalid' && isRequest(event.raw))) &&
      id !== undefined
    ) {
      const answer = errorAnswer(id, rpc, message, data);
      // Tagged with the refused message's seq: it ends that message's own entry, never another's.
      if (status === 'open') await observeSynthetic(opposite(event.dir), answer, event.seq);
      return { event, decision, answer };
    }
    // A refused answer — or a message that cannot be delivered (too large, malformed) but names a request
    // still waiting for its answer — is replaced by an error answer, so the caller is not left waiting.
    const owed =
      event.kind === 'response' || event.kind === 'error'
        ? event.request
        : event.kind === 'invalid' && id !== undefined && !isRequest(event.raw)
          ? core.state.pending.get(pendingKey(opposite(event.dir), id))
          : undefined;
    if (owed && id !== undefined) {
      core.sent.delete(owed.seq);
      const forward = errorAnswer(id, rpc, `intentguard: result withheld: ${data.reason}`, data);
      if (status === 'open') await observeSynthetic(event.dir, forward, owed.seq);
      return { event, decision, forward };
    }
    return { event, decision };
  };

  const approve = async (step: Step): Promise<boolean> => {
    const approver = opts.approver;
    if (!approver) return false;
    const controller = new AbortController();
    try {
      return await firstValueFrom(
        race(
          from(
            approver({
              session: core.id,
              decision: step.decision,
              event: step.event,
              intent: step.state.intent,
              signal: controller.signal,
            }),
          ),
          timer(opts.approvalTimeoutMs, opts.scheduler).pipe(map(() => false)),
        ),
      );
    } catch {
      return false;
    } finally {
      controller.abort();
    }
  };

  /** After a halt or close nothing passes; requests are answered so their senders do not hang. */
  const refuseEnded = (raw: unknown, step?: Step): Outcome => {
    const id = idOf(raw);
    const base = step ? { event: step.event, decision: step.decision } : {};
    if (!isRequest(raw) || id === undefined) return base;
    if (step && answeredByHalt.has(pendingKey(step.event.dir, id))) return base;
    const code = status === 'halted' ? 'ERR_SESSION_HALTED' : 'ERR_SESSION_CLOSED';
    return {
      ...base,
      answer: errorAnswer(id, RPC_CODES.HALTED, `intentguard: session ${status}`, {
        code,
        session: core.id,
      }),
    };
  };

  /** Apply a decision: synchronous for what passes, asynchronous for refusals, approvals and halts. */
  const settle = (step: Step): Outcome | Promise<Outcome> => {
    const { event, decision } = step;
    if (status !== 'open' && !event.synthetic) return refuseEnded(event.raw, step);
    if (opts.mode === 'monitor' || decision.action === 'allow' || decision.action === 'alert') {
      // A message whose body was not kept (too large, not serializable) cannot be delivered in any mode:
      // its sender (or, for an answer, its caller) gets an error instead.
      if (bodyDropped(event)) return refuse(event, decision);
      if (event.kind === 'request') core.sent.add(event.seq);
      // The client is shown only the tools it is offered; the event keeps the server's whole answer.
      if (isToolsListAnswer(event) && visibility(step.state.intent) === 'approved')
        return { event, decision, forward: filterToolsList(event.raw, step.state.intent) };
      return { event, decision, forward: event.raw };
    }
    return enforce(step);
  };

  const enforce = async (step: Step): Promise<Outcome> => {
    const { event, decision } = step;
    if (decision.action === 'halt') {
      await handle.halt(
        decision.findings.find((f) => f.action === 'halt')?.reason ?? 'halted by policy',
        decision,
      );
      return { event, decision };
    }
    if (decision.action === 'reauthorize' && event.kind === 'request') {
      const approved = await approve(step);
      // A halt may have answered this request while it waited; so may a (spoofed) early answer, refused
      // and replaced by an error: either way its sender has its one answer, and whatever the approver
      // said, nothing is sent and no second answer goes out under that id.
      if (status !== 'open' || core.state.pending.get(pendingKey(event.dir, event.id!))?.seq !== event.seq)
        return { event, decision };
      if (approved) {
        core.sent.add(event.seq);
        return { event, decision, forward: event.raw };
      }
    }
    return refuse(event, decision);
  };

  const handle: SessionHandle = {
    get id() {
      return core.id;
    },
    get status() {
      return status;
    },
    state: () => core.state,
    observe(dir, raw, bytes, text) {
      if (status !== 'open') return refuseEnded(raw);
      const step = submitNow(
        measure(dir, opts.clock(), raw, bytes, opts.maxMessageBytes, text, init.serialize()),
      );
      return isStep(step) ? settle(step) : step.then(settle);
    },
    attach(e) {
      endpoint = e;
    },
    halt(reason, decision) {
      if (halting) return halting;
      if (status !== 'open') return Promise.resolve();
      status = 'halted';
      halting = (async () => {
        const pending = [...core.state.pending.values()];
        const data = {
          code: 'ERR_SESSION_HALTED',
          session: core.id,
          reason,
          ...(decision && {
            decision: decision.id,
            rules: decision.findings.filter((f) => f.action === 'halt').map((f) => f.rule),
          }),
        };
        for (const p of pending) answeredByHalt.add(pendingKey(p.dir, p.id));
        for (const p of pending) {
          const answer = errorAnswer(p.id, RPC_CODES.HALTED, `intentguard: session halted: ${reason}`, data);
          await observeSynthetic(opposite(p.dir), answer, p.seq);
          try {
            await endpoint?.deliver(opposite(p.dir), answer);
          } catch {
            // the peer is already gone; nothing left to answer
          }
        }
        core.state = withStatus(core.state, 'halted', `halted: ${reason}`);
        try {
          await endpoint?.close();
        } finally {
          end('halted', `halted: ${reason}`);
        }
      })();
      return halting;
    },
    whenEnded: () => endedPromise,
    async amendIntent(intent, approvedBy) {
      const before = core.state.intent;
      const step = await submit({
        dir: 'c2s',
        raw: null,
        bytes: 0,
        time: opts.clock(),
        synthetic: true,
        control: { intent, by: approvedBy },
      });
      // A tool gained (or lost) by the approved change: the client is told to list its tools again.
      if (
        status === 'open' &&
        visibility(step.state.intent) === 'approved' &&
        offerChanged(before, step.state.intent)
      ) {
        await observeSynthetic('s2c', TOOLS_LIST_CHANGED);
        try {
          await endpoint?.deliver('s2c', TOOLS_LIST_CHANGED);
        } catch {
          // the client is gone; it lists again when it reconnects
        }
      }
      return step.state;
    },
    askClient(method, params, signal) {
      if (!endpoint?.ask) return Promise.reject(new Error('this session cannot ask its client'));
      return endpoint.ask(method, params, signal);
    },
    async record(dir, message) {
      await observeSynthetic(dir, message);
    },
    close(reason) {
      // A halt ends the session itself once its answers are out.
      if (status !== 'open') return;
      status = 'closed';
      end('closed', reason);
    },
  };

  let ended = false;
  let resolveEnded: (s: SessionState) => void = () => {};
  const endedPromise = new Promise<SessionState>((r) => {
    resolveEnded = r;
  });
  const end = (final: SessionStatus, reason?: string) => {
    if (ended) return;
    ended = true;
    core.state = withStatus(core.state, final, reason);
    init.onEnd(core.state);
    resolveEnded(core.state);
  };

  const core: SessionCore = {
    id: init.state.id,
    state: init.state,
    sent: new Set(),
    policyState: init.policyState,
    handle,
  };
  return core;
}
