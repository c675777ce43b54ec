import { SPEC_CODES } from '../era/keys.js';
import { refusal, type EraRefusal } from '../era/refusal.js';
import { isOwnState } from './state.js';

/** The `inputRequests` key intentguard uses for its approval prompt (keys are server-assigned). */
export const APPROVAL_KEY = 'intentguard.approval';

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** How an approval is asked: in the client (form) or on intentguard's approval page (url). */
export type PromptMode = { readonly mode: 'form' } | { readonly mode: 'url'; readonly url: string };

/**
 * Whether the request's own `clientCapabilities` allow the prompt (basic/patterns/mrtr.mdx: servers
 * "MUST NOT send an inputRequests that the client has not declared support for"). An empty
 * `elicitation` object means form mode (client/elicitation.mdx); URL mode needs `elicitation.url`.
 * Otherwise the call is refused with -32021 MissingRequiredClientCapability naming what is missing —
 * never downgraded from url to form, which would let an agent's own client approve its own call.
 */
export function checkPromptCapability(
  caps: Readonly<Record<string, unknown>> | undefined,
  prompt: PromptMode,
): EraRefusal | undefined {
  const el = caps?.elicitation;
  const ok =
    isPlain(el) &&
    (prompt.mode === 'url' ? isPlain(el.url) : Object.keys(el).length === 0 || isPlain(el.form));
  if (ok) return undefined;
  const required = { elicitation: prompt.mode === 'url' ? { url: {} } : { form: {} } };
  return refusal(
    SPEC_CODES.MISSING_REQUIRED_CLIENT_CAPABILITY,
    'ERR_ELICITATION_UNSUPPORTED',
    `the call needs an approval and the request declares no ${prompt.mode}-mode elicitation`,
    { requiredCapabilities: required },
  );
}

/**
 * intentguard's InputRequiredResult for a held call (basic/patterns/mrtr.mdx, "InputRequiredResult"):
 * one `elicitation/create` and the signed `requestState`.
 */
export function inputRequired(
  message: string,
  state: string,
  prompt: PromptMode,
): { resultType: 'input_required'; inputRequests: Record<string, unknown>; requestState: string } {
  const params =
    prompt.mode === 'url'
      ? { mode: 'url', message, url: prompt.url }
      : {
          mode: 'form',
          message,
          requestedSchema: {
            type: 'object',
            properties: { approve: { type: 'boolean', title: 'Approve this call' } },
            required: ['approve'],
          },
        };
  return {
    resultType: 'input_required',
    inputRequests: { [APPROVAL_KEY]: { method: 'elicitation/create', params } },
    requestState: state,
  };
}

/** What the retry's `inputResponses` say to intentguard's prompt. */
export type ApprovalAnswer = 'approved' | 'declined' | 'absent';

/**
 * Read the answer to intentguard's prompt from a retry's `params.inputResponses`. In form mode only an
 * `accept` whose content says `approve: true` approves; in URL mode the client's `accept` only says the
 * page was opened, so the decision is the approval page's (the caller checks it) and this says `absent`.
 */
export function approvalAnswer(params: unknown, prompt: PromptMode): ApprovalAnswer {
  const responses = isPlain(params) ? params.inputResponses : undefined;
  const r = isPlain(responses) ? responses[APPROVAL_KEY] : undefined;
  if (!isPlain(r)) return 'absent';
  if (prompt.mode === 'url') return r.action === 'accept' ? 'absent' : 'declined';
  return r.action === 'accept' && isPlain(r.content) && r.content.approve === true ? 'approved' : 'declined';
}

/**
 * The retry's params with intentguard's own material removed (its `requestState` and its
 * `inputResponses` entry), so nothing of intentguard's state goes upstream. An upstream server's own
 * state and responses are kept byte for byte. Returns the same object when there is nothing to strip.
 */
export function stripOwn(params: Record<string, unknown>): Record<string, unknown> {
  const responses = params.inputResponses;
  const ownResponse = isPlain(responses) && APPROVAL_KEY in responses;
  const ownState = isOwnState(params.requestState);
  if (!ownResponse && !ownState) return params;
  const next = { ...params };
  if (ownState) delete next.requestState;
  if (ownResponse) {
    const rest = { ...responses };
    delete rest[APPROVAL_KEY];
    if (Object.keys(rest).length > 0) next.inputResponses = rest;
    else delete next.inputResponses;
  }
  return next;
}
