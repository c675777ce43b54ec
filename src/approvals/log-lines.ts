import { printable } from '../lib/printable.js';
import type { PendingApproval } from './approvals.js';

/**
 * The log line for a call that needed an approval when nobody could give one: it was denied at once
 * (never "held"), and the line says how to configure an approver.
 *
 * @example noApproverLine(p) // 'denied write_file for agent:x at once (session …, approval apr-…): needs an approval and no approver is configured …'
 */
export function noApproverLine(p: PendingApproval): string {
  return `denied ${printable(p.tool)} for ${printable(p.sub)} at once (session ${p.session}, approval ${p.id}): needs an approval and no approver could ask (configure --approve-cli, --approval-webhook URL or --elicitation): ${printable(p.reason)}`;
}
