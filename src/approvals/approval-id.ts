import type { Decision } from '../model/decision.js';

/**
 * The id of the approval a held call waits under: derived from its decision, so the alert raised when
 * the call is decided, the approval written when it is held and the JSON-RPC error that refuses it all
 * name the same approval (`intentguard approve ID`, `intentguard approvals`).
 *
 * @example approvalIdFor({ id: 'd-1f2e-7' }) // 'apr-d-1f2e-7'
 */
export const approvalIdFor = (decision: Pick<Decision, 'id'>): string => `apr-${decision.id}`;

/** Is this decision one that waits for an approver (enforced, a request, held for re-authorization)? */
export const heldForApproval = (
  mode: 'enforce' | 'monitor',
  action: Decision['action'],
  kind: string,
  approver: unknown,
): boolean => mode === 'enforce' && action === 'reauthorize' && kind === 'request' && approver !== undefined;
