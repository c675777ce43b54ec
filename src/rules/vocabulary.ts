/**
 * The typed field vocabulary rule expressions can read. Every field is documented here and in
 * README.md ("Rule fields"); a test keeps the two in step, and the loader rejects any field not listed.
 * `map` fields accept any key below them (`call.args.to`); `list<...>` fields are lists.
 *
 * Trust: `principal.*` comes from a verified credential; `unverified.*` is whatever the client said
 * about itself; everything else is computed by intentguard from the messages and the approved intent.
 */
type FieldType = 'string' | 'double' | 'bool' | 'map' | 'list<string>' | 'list<map>' | 'list<double>';

export interface FieldDoc {
  readonly type: FieldType;
  readonly doc: string;
}

export const VOCABULARY: Readonly<Record<string, FieldDoc>> = {
  'principal.sub': { type: 'string', doc: 'verified agent identity (grant `sub`); empty when no credential was verified' },
  'principal.iss': { type: 'string', doc: 'issuer of the verified grant' },
  'principal.act': { type: 'string', doc: 'the user the agent acts for (grant `act.sub`), empty if none' },
  'principal.verified': { type: 'bool', doc: 'true when the identity comes from a verified credential' },
  'unverified.client_name': { type: 'string', doc: 'clientInfo.name the client sent in `initialize`, or in the request\'s `_meta` (2026-07-28; client-supplied)' },
  'unverified.client_version': { type: 'string', doc: 'clientInfo.version (client-supplied)' },
  'unverified.protocol_version': { type: 'string', doc: 'protocolVersion the client asked for in `initialize`, or its request\'s `_meta` names (client-supplied)' },
  'intent.id': { type: 'string', doc: 'id of the approval' },
  'intent.version': { type: 'double', doc: 'intent version; grows when an approved change widens it' },
  'intent.purpose': { type: 'string', doc: 'the approved task, in words' },
  'intent.tools': { type: 'list<string>', doc: "approved tool names (['*'] when every tool is approved)" },
  'intent.zones': { type: 'list<string>', doc: 'approved hosts, domains and CIDRs' },
  'intent.paths': { type: 'list<string>', doc: 'approved resource paths (resources.paths; empty when none)' },
  'intent.recipients': { type: 'list<string>', doc: 'approved counterparties' },
  'intent.sensitivity': { type: 'string', doc: 'sensitivity ceiling (public..secret); empty when none was set' },
  'intent.budget_calls': { type: 'double', doc: 'approved number of tool calls (-1 when unlimited)' },
  'intent.budget_duration_ms': { type: 'double', doc: 'approved session length in ms (-1 when unlimited)' },
  'event.kind': { type: 'string', doc: 'tool_call, tool_result, tools_list, server_request, request, response, notification' },
  'event.dir': { type: 'string', doc: 'c2s or s2c' },
  'event.method': { type: 'string', doc: 'JSON-RPC method (for responses: the method of the request answered)' },
  'call.tool': { type: 'string', doc: 'tool name of a tools/call (and of its result)' },
  'call.args': { type: 'map', doc: 'tool call arguments as sent' },
  'call.index': { type: 'double', doc: '0-based index of the tools/call in the session' },
  'call.server': { type: 'string', doc: 'serverInfo.name the server announced' },
  'tool.name': { type: 'string', doc: 'tool name' },
  'tool.known': { type: 'bool', doc: 'the tool was listed by tools/list in this session' },
  'tool.approved': { type: 'bool', doc: 'the approved intent names this tool' },
  'tool.side_effecting': { type: 'bool', doc: 'the tool changes or sends something (inferred; the more dangerous of annotations and name wins)' },
  'tool.read_only': { type: 'bool', doc: 'not side-effecting' },
  'tool.categories': { type: 'list<string>', doc: 'read, write, egress, destructive, code-execution, credential, privilege, sensitive-read, network, financial' },
  'tool.description': { type: 'string', doc: 'description from tools/list' },
  'tool.requested': { type: 'bool', doc: 'the approved purpose asks for what this tool does: a word of its action (name from the verb on, lead verbs of the description) is a word of the purpose (tool calls only)' },
  'tool.annotations': { type: 'map', doc: 'MCP annotations from tools/list (readOnlyHint, destructiveHint, openWorldHint, idempotentHint)' },
  'net.hosts': { type: 'list<string>', doc: 'hosts named in the call arguments, normalized (punycode, no trailing dot, no www., canonical IPv4)' },
  'net.urls': { type: 'list<string>', doc: 'URLs named in the arguments, normalized (user-info dropped)' },
  'net.emails': { type: 'list<string>', doc: 'email addresses in the arguments, lower case' },
  'net.accounts': { type: 'list<string>', doc: 'account numbers (IBAN-shaped or 9+ digits) in the arguments' },
  'net.ips': { type: 'list<string>', doc: 'IP addresses in the arguments' },
  'net.locals': { type: 'list<string>', doc: 'URLs that reach this machine instead of the network (file: with no host, unix: and +unix sockets), as scheme and path' },
  'net.targets': { type: 'list<string>', doc: 'hosts, URLs, emails, accounts and IPs (not locals)' },
  'data.labels': { type: 'list<string>', doc: 'labels of the call arguments: secret, credential, personal, financial' },
  'data.kinds': { type: 'list<string>', doc: 'detectors that fired on the arguments (aws-access-key, jwt, iban, ...)' },
  'data.sensitivity': { type: 'string', doc: 'sensitivity implied by the argument labels' },
  'provenance.targets': { type: 'list<map>', doc: 'per target in the arguments: {value, kind, in_intent, from_result, from_injected, destination}' },
  'provenance.destinations': { type: 'list<string>', doc: 'targets under destination-like argument names (to, recipient, url, channel, account...); all targets when no argument is named so' },
  'provenance.unapproved_destinations': { type: 'list<string>', doc: 'destinations the approved intent never names' },
  'provenance.injected_destinations': { type: 'list<string>', doc: 'unapproved destinations that arrived inside an instruction-carrying result' },
  'provenance.invented_destinations': { type: 'list<string>', doc: 'unapproved destinations seen neither in the intent nor in any result' },
  'provenance.steered_destinations': { type: 'list<string>', doc: 'unapproved destinations an earlier result told its reader to act on, in a sentence not about the approved purpose (its line shares fewer than two distinctive words with it, and it does not ask for the purpose’s own action on its object), or of a kind the purpose names itself (no marker words needed)' },
  'provenance.steered_targets': { type: 'list<string>', doc: 'unapproved targets anywhere in the arguments (a link in a message body too) that an earlier result told its reader to act on, as for provenance.steered_destinations' },
  'provenance.approved_values': { type: 'list<string>', doc: 'argument values (8+ characters, not destinations) that the approved purpose quotes: content the approval asked for' },
  'provenance.unapproved_targets': { type: 'list<string>', doc: 'targets in the arguments that the approved intent never names' },
  'provenance.result_targets': { type: 'list<string>', doc: 'unapproved targets that arrived inside an earlier tool result' },
  'provenance.injected_targets': { type: 'list<string>', doc: 'unapproved targets that arrived inside a tool result carrying instructions' },
  'provenance.invented_targets': { type: 'list<string>', doc: 'unapproved targets seen neither in the intent nor in any result' },
  'provenance.injected_values': { type: 'list<string>', doc: 'argument values (whole strings) found in an instruction-carrying result and not in the intent' },
  'provenance.fragments': { type: 'list<map>', doc: 'earlier results sharing a text fragment with the arguments: {call, tool, injected, sensitivity}' },
  'provenance.from_injected': { type: 'bool', doc: 'a target or whole argument value traces back to an instruction-carrying result (fragments: see provenance.fragments)' },
  'provenance.max_source_sensitivity': { type: 'string', doc: 'highest sensitivity of the results the arguments carry fragments of' },
  'result.text': { type: 'string', doc: 'text of a tool result (content text parts joined)' },
  'result.is_error': { type: 'bool', doc: 'the tool reported an error' },
  'result.labels': { type: 'list<string>', doc: 'data labels of the result' },
  'result.kinds': { type: 'list<string>', doc: 'detectors that fired on the result' },
  'result.sensitivity': { type: 'string', doc: 'sensitivity of the result' },
  'result.injection': { type: 'bool', doc: 'the result carries instruction-like content aimed at the agent' },
  'result.injection_score': { type: 'double', doc: 'injection marker score (2 or more is instruction-like)' },
  'result.injection_families': { type: 'list<string>', doc: 'marker families found (override, task-hijack, addresses-model, authority, markup, chat-template, secrecy, directive)' },
  'tools_list.changed': { type: 'list<string>', doc: 'tools whose definition changed since the previous tools/list in this session' },
  'tools_list.added_after_first': { type: 'list<string>', doc: 'tools that appeared after the first tools/list' },
  'tools_list.injected': { type: 'list<string>', doc: 'tools whose description carries instruction-like content' },
  'request.method': { type: 'string', doc: 'method of a server-initiated request (sampling/createMessage, elicitation/create, roots/list)' },
  'request.text': { type: 'string', doc: 'text of a server-initiated request (messages, prompts)' },
  'request.injection': { type: 'bool', doc: 'the server request carries instruction-like content' },
  'request.asks_secret': { type: 'bool', doc: 'an elicitation asks for a password, token, key or payment data' },
  'session.id': { type: 'string', doc: 'intentguard session id' },
  'session.calls': { type: 'double', doc: 'tool calls so far, this one included' },
  'session.elapsed_ms': { type: 'double', doc: 'ms since the session started' },
  'session.tools_used': { type: 'list<string>', doc: 'distinct tools called so far' },
  'session.out_of_intent_calls': { type: 'double', doc: 'calls so far to tools outside the intent' },
  'session.side_effect_calls': { type: 'double', doc: 'side-effecting calls so far' },
  'session.injection_seen': { type: 'bool', doc: 'an earlier result carried instruction-like content' },
  'session.steering_seen': { type: 'bool', doc: 'an earlier result told its reader to act on a target, unrelated to the approved purpose (see provenance.steered_destinations)' },
  'session.untrusted_seen': { type: 'bool', doc: 'an earlier result came from an open-world or network tool, or carried instructions' },
  'session.max_sensitivity': { type: 'string', doc: 'highest sensitivity seen in results so far' },
  'session.drift_score': { type: 'double', doc: '0..1: how far the session has moved from its approval (see README)' },
  'session.calls_last_minute': { type: 'double', doc: 'tool calls in the last 60 s, this one included' },
  'session.same_tool_streak': { type: 'double', doc: 'consecutive calls to this same tool, this one included' },
  'session.tool_definition_changes': { type: 'double', doc: 'tool definitions changed mid-session' },
  'session.server_requests': { type: 'double', doc: 'server-initiated requests so far' },
  'time.now': { type: 'double', doc: 'event time, ms since the epoch (injectable clock)' },
  'time.hour': { type: 'double', doc: 'hour of day 0-23 in the engine time zone (UTC by default)' },
  'time.weekday': { type: 'double', doc: 'day of week, 0 = Sunday' },
};

/** Top-level names that may start a field path. `lists` and `macros` come from rule files. */
export const ROOTS = new Set([...Object.keys(VOCABULARY).map((k) => k.split('.')[0]!), 'lists', 'macros']);

/** Fields whose children are open (any key). */
const OPEN = new Set(Object.entries(VOCABULARY).filter(([, v]) => v.type === 'map').map(([k]) => k));

/** Is `path` (e.g. ['call', 'args', 'to']) a known field or inside an open map? */
export function knownPath(path: readonly string[]): boolean {
  for (let i = path.length; i >= 1; i--) {
    const key = path.slice(0, i).join('.');
    if (i === path.length && (key in VOCABULARY || isPrefix(key))) return true;
    if (OPEN.has(key)) return true;
  }
  return false;
}

const isPrefix = (key: string): boolean => Object.keys(VOCABULARY).some((k) => k.startsWith(`${key}.`));
