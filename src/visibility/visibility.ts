import type { SessionEvent } from '../model/events.js';
import type { Intent } from '../model/intent.js';
import type { Finding } from '../model/policy.js';

/** Which tools a session's client is offered: `approved` (only those the approval covers) or `all`. */
export type Visibility = 'approved' | 'all';

/**
 * The visibility a session runs under: `approved` when the intent or the proxy says so (the stricter
 * setting wins: an intent cannot show what the operator hides). Monitor mode changes nothing delivered,
 * so it lists everything.
 * @example effectiveVisibility(intent, 'approved', 'enforce') // 'approved'
 */
export function effectiveVisibility(
  intent: Intent,
  proxy: Visibility | undefined,
  mode: 'enforce' | 'monitor',
): Visibility {
  if (mode === 'monitor') return 'all';
  return intent.visibility === 'approved' || proxy === 'approved' ? 'approved' : 'all';
}

/** Whether the intent offers this tool (the same test the intent policy uses to approve a call). */
const offers = (intent: Intent, tool: string): boolean =>
  intent.tools === '*' || intent.tools.some((t) => t.name === tool);

/**
 * A call of a tool the client was not offered: always a deny (never a re-authorization: a hidden tool is
 * not callable, so list and call decisions agree). Undefined when the call is visible.
 */
export function hiddenToolFinding(
  event: SessionEvent,
  intent: Intent,
  visibility: Visibility,
): Finding | undefined {
  if (
    visibility !== 'approved' ||
    event.tool === undefined ||
    event.kind !== 'request' ||
    event.dir !== 'c2s'
  )
    return undefined;
  if (offers(intent, event.tool)) return undefined;
  return {
    rule: 'intent/tool-hidden',
    action: 'deny',
    severity: 'medium',
    code: 'ERR_TOOL_HIDDEN',
    reason: `"${event.tool}" is not offered to this session (visibility: approved; not among the tools approved for "${intent.purpose}")`,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The `tools/list` answer (one page) the client is shown: the same message with `result.tools` reduced to
 * the tools the intent offers; the message itself when nothing is removed. The monitor records the
 * server's own answer, so rules and replay still see every tool offered.
 */
export function filterToolsList(message: unknown, intent: Intent): unknown {
  if (intent.tools === '*' || !isObject(message) || !isObject(message.result)) return message;
  const tools = message.result.tools;
  if (!Array.isArray(tools)) return message;
  const shown = tools.filter((t) => isObject(t) && typeof t.name === 'string' && offers(intent, t.name));
  if (shown.length === tools.length) return message;
  return { ...message, result: { ...message.result, tools: shown } };
}

/** Whether the server's answer is a `tools/list` page going to the client. */
export const isToolsListAnswer = (event: SessionEvent): boolean =>
  event.kind === 'response' && event.dir === 's2c' && event.method === 'tools/list';

/** Whether a change of intent changes what the client is offered (so it must be told to list again). */
export function offerChanged(before: Intent, after: Intent): boolean {
  if (before.tools === '*' || after.tools === '*') return before.tools !== after.tools;
  const a = new Set(before.tools.map((t) => t.name));
  const b = new Set(after.tools.map((t) => t.name));
  return a.size !== b.size || [...a].some((n) => !b.has(n));
}

/** The notification that tells the client its tool list changed. */
export const TOOLS_LIST_CHANGED = Object.freeze({
  jsonrpc: '2.0',
  method: 'notifications/tools/list_changed',
});
