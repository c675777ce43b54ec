/**
 * One error class with a stable `code`. Callers and tests switch on the code, never on message prose.
 * Every code is listed in {@link ERROR_CODES} and documented in README.md ("Error codes"); a test keeps
 * the two in step.
 */
export const ERROR_CODES = {
  ERR_JSONRPC_INVALID: 'message is not a valid JSON-RPC 2.0 object',
  ERR_JSON_AMBIGUOUS:
    'message JSON that parsers read differently (a key given twice, or keys equal but for case): refused, since the peer may act on another reading than the one decided',
  ERR_JSONRPC_VERSION: 'jsonrpc member is not "2.0"',
  ERR_JSONRPC_ID: 'id is missing or not a string/integer',
  ERR_JSONRPC_METHOD: 'method is not a non-empty string',
  ERR_JSONRPC_PARAMS: 'params is not an object or array',
  ERR_JSONRPC_ERROR_OBJECT: 'error member is not {code: integer, message: string}',
  ERR_MESSAGE_TOO_LARGE: 'message exceeds the configured size limit',
  ERR_TOOL_CALL_PARAMS: 'tools/call params lack a string name, or arguments are given and not an object',
  ERR_METHOD_NOT_CANONICAL:
    'method name is a variant of a known MCP method (case, whitespace, separators) or not printable ASCII',
  ERR_NOTIFICATION_METHOD: 'a notification (no id) names an MCP request method, such as tools/call',
  ERR_NOT_INITIALIZED: 'a request other than ping before the session was initialized',
  ERR_ALREADY_INITIALIZED: 'initialize on a session that is already initialized (or initializing)',
  ERR_META_MISSING:
    'a 2026-07-28 request lacks a required _meta field (protocol version not a string, no clientCapabilities), or the MCP-Protocol-Version header names a modern version the body does not carry',
  ERR_HEADER_MISMATCH:
    'an Mcp-Method, Mcp-Name or MCP-Protocol-Version header is missing, malformed, or disagrees with the body (HeaderMismatch, -32020)',
  ERR_PROTOCOL_VERSION:
    "the request's _meta protocol version is not one intentguard implements (UnsupportedProtocolVersion, -32022)",
  ERR_PROTOCOL_VERSION_CHANGED:
    'a request names another protocol version (or era) than the one its session started with',
  ERR_ELICITATION_UNSUPPORTED:
    "the call needs an approval and the request's clientCapabilities declare no elicitation to carry it (MissingRequiredClientCapability, -32021)",
  ERR_REQUEST_STATE_INVALID:
    'an intentguard requestState is malformed or its signature does not verify (altered)',
  ERR_REQUEST_STATE_EXPIRED: 'an intentguard requestState was presented after its expiry',
  ERR_REQUEST_STATE_REPLAYED: 'an intentguard requestState was already redeemed (each is single-use)',
  ERR_REQUEST_STATE_MISMATCH:
    'an intentguard requestState is presented by another principal or session, or on a retry whose tool, arguments or intent version differ',
  ERR_TASK_NOT_OWNED:
    'tasks/get, tasks/update, tasks/cancel or tasks/result names a task another agent or session created, or one intentguard never saw created',
  ERR_INPUT_REQUEST_DENIED:
    "a server's own MRTR round (inputRequests of an input_required result or task) was refused by a rule on server requests; the result is withheld",
  ERR_UNMATCHED_RESPONSE: 'response id matches no pending request (spoofed or replayed)',
  ERR_DUPLICATE_REQUEST_ID: 'request id is already pending in this direction',
  ERR_CANCEL_UNKNOWN_REQUEST:
    'notifications/cancelled names no request its sender has in flight (or no requestId); not forwarded',
  ERR_TOO_MANY_PENDING: 'too many requests in flight for this session',
  ERR_CALL_DENIED: 'the call was denied by policy',
  ERR_TOOL_HIDDEN: 'the call names a tool the session is not offered (visibility: approved)',
  ERR_REAUTH_REQUIRED: 'the call needs re-authorization and no approver granted it',
  ERR_SESSION_HALTED: 'the session was halted by policy; no further messages are accepted',
  ERR_SESSION_CLOSED: 'the session is closed',
  ERR_POLICY_FAILED: 'the policy threw while deciding; failing closed',
  ERR_POLICY_TIMEOUT: 'the policy did not decide in time; failing closed',
  ERR_ANALYSIS_BUDGET:
    'the message is too large or too deep to analyse within the per-message budget; failing closed',
  ERR_INTENT_INVALID: 'the declared intent is malformed',
  ERR_ARGS_UNSCANNABLE:
    'the arguments are too large or too deeply nested to check every location they name; the call is refused',
  ERR_BUNDLE_LINE: 'a session bundle line is malformed',
  ERR_DURATION: 'a duration string is malformed',
  ERR_RULE_PARSE: 'a rule file is not valid YAML',
  ERR_RULE_SCHEMA: 'a rule file does not have the documented shape',
  ERR_RULE_EXPRESSION: 'a rule expression does not parse or type-check',
  ERR_RULE_UNKNOWN_FIELD: 'a rule expression reads a field outside the documented vocabulary',
  ERR_RULE_UNKNOWN_FUNCTION: 'a rule expression calls a function outside the closed function table',
  ERR_RULE_UNSAFE_REGEX: 'a rule uses a backtracking regex; use re2()',
  ERR_RULE_DUPLICATE_ID: 'two rules share an id',
  ERR_RULE_OVERRIDE: 'an override names no rule, or weakens on_error without unsafe_override',
  ERR_RULE_EVAL: 'a rule failed while evaluating; enforcing rules fail closed',
  ERR_RULE_FIXTURE: 'a rule fixture file is malformed',
  ERR_GRANT_MISSING: 'no grant (bearer token) was presented',
  ERR_GRANT_MALFORMED: 'the grant is not a well-formed compact JWS (bad base64, JSON or structure)',
  ERR_GRANT_TOO_LARGE: 'the grant exceeds the size limit',
  ERR_GRANT_JWE: 'the grant is an encrypted JWE; a signed JWS is required',
  ERR_GRANT_ALG: 'the grant algorithm is not allowed (none, HMAC with asymmetric keys, or not pinned)',
  ERR_GRANT_KEY_UNKNOWN: 'no configured key matches the grant (unknown kid)',
  ERR_GRANT_SIGNATURE: 'the grant signature does not verify',
  ERR_GRANT_CRIT: 'the grant has a critical header parameter intentguard does not understand',
  ERR_GRANT_EXPIRED: 'the grant has expired',
  ERR_GRANT_NOT_YET_VALID: 'the grant is not valid yet (nbf or iat in the future)',
  ERR_GRANT_ISSUER: 'the grant was issued by an issuer that is not trusted',
  ERR_GRANT_AUDIENCE: 'the grant was minted for another resource (aud)',
  ERR_GRANT_TTL: 'the grant lives longer than the configured maximum TTL',
  ERR_GRANT_CLAIM: 'a required grant claim is missing or has the wrong type',
  ERR_GRANT_INTENT: 'the grant carries no valid intent and no default intent is configured',
  ERR_GRANT_REVOKED: 'the grant (jti) or its subject was revoked',
  ERR_NOT_REVOKED: 'unrevoke: the grant (jti) or subject has no revocation in force to lift',
  ERR_GRANT_SHARED: 'the same grant (jti) is used by two concurrent sessions',
  ERR_GRANT_TASK_ACTIVE: 'a one-task grant (task: once) is already in use by an open session',
  ERR_GRANT_UNVERIFIABLE:
    'a grant was presented but no key is configured to verify it (--jwks, --jwks-url or --pem); enforce mode refuses to start',
  ERR_KEY_SOURCE: 'the key source (JWKS URL, JWKS file, PEM) could not be loaded',
  ERR_APPROVAL_NOT_FOUND: 'no pending approval with that id',
  ERR_SESSION_NOT_FOUND: 'no recorded session with that id in the database',
  ERR_APPROVAL_DONE: 'the approval was already decided',
  ERR_STORE: 'the recording database failed',
  ERR_STORE_FULL: 'the recording database is out of disk space',
  ERR_STORE_LOCKED: 'the recording database is locked by another writer',
  ERR_STORE_CORRUPT:
    'a recorded row cannot be read back (altered or damaged after it was written); run intentguard audit verify',
  ERR_STORE_URL:
    'the store location (--store, store: in intentguard.yaml, INTENTGUARD_STORE) is a postgres:// URL that does not parse, or has no host or database',
  ERR_STORE_UNREACHABLE: 'the PostgreSQL store cannot be reached (connection refused, timed out, or dropped)',
  ERR_STORE_AUTH: 'the PostgreSQL store refused the login (wrong user or password, or not allowed)',
  ERR_STORE_NOT_FOUND: 'the PostgreSQL database named in the store URL does not exist',
  ERR_STORE_SCHEMA: 'the store schema is newer than this intentguard, or a migration failed',
  ERR_STORE_KEY:
    "the audit key file does not match the store's registered key fingerprint, or is missing where it must exist",
  ERR_STORE_BACKEND: 'this command does not support the selected store backend',
  ERR_SUGGEST_NO_SESSIONS:
    'intent suggest found no recorded session matching its filter: nothing to learn from',
  ERR_WRAP_CONFIG:
    "a desktop client MCP configuration to wrap or unwrap is missing, not JSON, or not of that client's shape",
  ERR_UNFINISHED:
    'the command stopped before it finished: nothing was left to wake what it was waiting for (a defect; status 1)',
  ERR_REPLAY: 'a replay job failed for a reason of its own (the message says which)',
  ERR_RECORD_FAILED: 'recording failed; calls are denied rather than run unrecorded',
  ERR_SESSION_LEASE:
    'no instance of the fleet can serve this stateless session now (the PostgreSQL store is away, or its owner cannot be reached and its lease has not run out); retry',
  ERR_BUDGET_UNAVAILABLE:
    "a fleet's shared grant budget could not be counted (the PostgreSQL store is away); the call is denied",
  ERR_CONFIG: 'a flag, environment variable or intentguard.yaml setting is invalid',
  ERR_FILE: 'a file or directory named on the command line or in intentguard.yaml cannot be read',
  ERR_NOT_FOUND: 'no MCP endpoint at the requested HTTP path',
  ERR_SESSION_QUOTA:
    'this agent identity already holds its maximum of concurrent sessions (--max-sessions-per-agent); try again later',
  ERR_ORIGIN:
    'the request carries a browser Origin that is not allowed (--allowed-origins), or comes from another site without one',
  ERR_HOST:
    'the Host header names neither the address intentguard listens on nor an allowed host (--allowed-hosts)',
  ERR_CONTENT_TYPE: 'a POST body is not application/json (charset, if given, must be utf-8)',
  ERR_LISTEN: 'intentguard cannot listen on the given address (in use, not available, or not permitted)',
  ERR_KEY_EXISTS: 'keys generate would overwrite an existing private key; give --force to replace it',
  ERR_UPSTREAM: 'the upstream server could not be reached or answered with something that is not MCP',
  ERR_UPSTREAM_BACKLOG:
    'more messages waited for the upstream connection to open than the bound allows (WebSocket proxy); the session ends',
  ERR_TAP_BACKLOG:
    'more messages of an in-process tap wait for a decision than its bound allows: a local send is refused, a flood from the remote peer ends the session',
  ERR_NO_STREAM: 'a server request had no open client stream to travel on; the server gets this error',
  ERR_STREAM_OPEN: 'the session already has an open GET stream',
  ERR_TOO_MANY_SESSIONS:
    'the proxy already carries its maximum of concurrent sessions (--max-sessions); try again later',
  ERR_CONSOLE_AUTH:
    'the console request carries no valid login (session cookie, admin token or identity JWT)',
  ERR_CONSOLE_ROLE: 'the console login lacks the role this action needs (viewer < approver < admin)',
  ERR_CONSOLE_CSRF: 'a console state change without a matching CSRF token, or from another origin',
  ERR_CONSOLE_SELF_APPROVAL:
    'an approver cannot decide a call or grant request made under their own identity',
  ERR_CONSOLE_REQUEST: 'a console request is malformed (unknown route, bad parameter or body)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class IntentGuardError extends Error {
  override readonly name = 'IntentGuardError';
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, data?: Record<string, unknown>) {
    super(message ?? ERROR_CODES[code]);
    this.code = code;
    this.data = data;
  }
}

/**
 * JSON-RPC error codes intentguard puts on the wire, in both protocol eras. They sit outside the
 * JSON-RPC reserved range (-32768..-32000): MCP 2026-07-28 reserves -32020..-32099 for the specification
 * and asks new application codes to be allocated outside the reserved range
 * (docs/specification/2026-07-28/basic/index.mdx, "Error Codes"). Until 0.1.x they were -32080..-32083;
 * each kept its last digits and its `data.code`. The specification's own codes intentguard answers with
 * (HeaderMismatch -32020, MissingRequiredClientCapability -32021, UnsupportedProtocolVersion -32022) are
 * in src/era/keys.ts and used for 2026-07-28 requests only.
 */
export const RPC_CODES = {
  /** The request was refused by policy (deny, or reauthorize that was not approved). */
  DENIED: -31080,
  /** The session was halted; every in-flight and later request gets this. */
  HALTED: -31081,
  /** The message was malformed or too large and was not forwarded. */
  REFUSED: -31082,
  /** The monitor could not decide (policy error or timeout): fail closed. */
  MONITOR_FAILURE: -31083,
  /** JSON-RPC standard invalid request. */
  INVALID_REQUEST: -32600,
} as const;
