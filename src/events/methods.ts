/**
 * The MCP method names (protocol 2025-11-25, as the SDK v1 schemas spell them), and the check that a
 * method name a server might *normalise* into one of them is refused rather than passed on undecided.
 */
export const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/roots/list_changed',
  'notifications/elicitation/complete',
  'notifications/tasks/status',
]);

/** The MCP methods that are requests (answered): sent without an id, one is refused, never forwarded. */
export const MCP_REQUEST_METHODS: ReadonlySet<string> = new Set(
  [...MCP_METHODS].filter((m) => !m.startsWith('notifications/')),
);

/** A method's skeleton: ASCII letters folded to lower case and digits, everything else dropped. */
export function methodSkeleton(method: string): string {
  let out = '';
  for (let i = 0; i < method.length; i++) {
    let c = method.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) out += String.fromCharCode(c);
  }
  return out;
}

const SKELETONS: ReadonlyMap<string, string> = new Map([...MCP_METHODS].map((m) => [methodSkeleton(m), m]));

/**
 * Why a method name is refused, or undefined when it is accepted. Accepted: a known MCP method byte for
 * byte, or any other name of printable ASCII (0x21–0x7e) that is not a variant of a known one. Refused:
 * anything with whitespace, control, format or non-ASCII characters (`"tools/call "`, `"tools/call\u200b"`,
 * fullwidth letters), and any spelling that differs from a known method only in case or separators
 * (`"Tools/Call"`, `"tools.call"`, `"tools//call"`): a server that trims, folds or normalises would run
 * it as that method, while policies keyed on the exact name would not see it as one.
 * @example methodProblem('Tools/Call') // 'a variant of "tools/call"'
 */
export function methodProblem(method: string): string | undefined {
  if (MCP_METHODS.has(method)) return undefined;
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c < 0x21 || c > 0x7e)
      return `character U+${c.toString(16).toUpperCase().padStart(4, '0')} at ${i} (method names are printable ASCII)`;
  }
  const known = SKELETONS.get(methodSkeleton(method));
  return known === undefined
    ? undefined
    : `a variant of ${JSON.stringify(known)}; only the exact name is accepted`;
}
