// The public API: every name is listed here (no `export *`), each function beside its options type.
// Internals (the reducer, bundle-line parsing, replay jobs, worker plumbing) are imported from their
// modules by the CLI and the tests, never from here. README's API section lists the same names.

// The reducer and message classification: internals, kept here only because bench/rules.ts and
// bench/profile-*.ts compare dist builds of earlier commits through this barrel (to move out with them).
export { advance, initialState } from './monitor/state.js';
export { classifyMessage } from './events/validate.js';

// The monitor and its vocabulary.
export { createMonitor } from './monitor/create.js';
export type { Monitor } from './monitor/create.js';
export type { MonitorOptions } from './monitor/options.js';
export type { SessionHandle, SessionEndpoint } from './monitor/handle.js';
export type { SessionEvent, Direction, EventKind, Identity, CorrelatedRequest } from './model/events.js';
export type { SessionState, SessionStatus, ToolInfo } from './model/session.js';
export type {
  Decision,
  Alert,
  Outcome,
  Approver,
  ApprovalRequest,
  OpenSessionOptions,
} from './model/decision.js';
export { ACTIONS, ACTION_RANK, SEVERITIES } from './model/policy.js';
export type { Policy, PolicyInput, Verdict, Finding, Action, Severity } from './model/policy.js';
export type { Intent, ToolGrant, ArgConstraint, Sensitivity } from './model/intent.js';
export { IntentGuardError, ERROR_CODES, RPC_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';

// Intents and policies.
export { parseIntent } from './intent/parse.js';
export { intentPolicy } from './policy/intent-policy.js';
export type { IntentPolicyOptions } from './policy/intent-policy.js';
export { combinePolicies } from './policy/combine.js';
export { loadRules, RuleLoadError } from './rules/loader.js';
export { rulesPolicy } from './rules/engine.js';
export type { RulesPolicyOptions } from './rules/engine.js';
export { loadRulePack, packPolicies, SHIPPED_RULES_DIR } from './rules/pack.js';
export type { RuleSet } from './rules/types.js';

// The in-process tap and the proxies.
export { tap } from './transports/sdk/tap.js';
export type { TapOptions, TappedTransport } from './transports/sdk/tap.js';
export { tapWithGrant } from './app/tap-grant.js';
export { runStdioProxy } from './transports/stdio.js';
export type { StdioProxyOptions } from './transports/stdio.js';
export { startHttpProxy } from './transports/http/server.js';
export type { HttpProxyOptions, HttpProxy } from './transports/http/server.js';
export { startWsProxy } from './transports/ws.js';
export type { WsProxyOptions } from './transports/ws.js';
export { WebSocketServerTransport, listenWebSocket } from './transports/ws-transport.js';
export { createRuntime } from './app/runtime.js';
export type { Runtime, RuntimeOptions } from './transports/runtime.js';

// Identity: signed grants, keys, revocations.
export { verifyGrant, mintGrant, GrantError } from './identity/grant.js';
export type { VerifiedGrant, GrantPolicy, MintOptions } from './identity/grant.js';
export { resolveKeys, generateKeys, DEFAULT_ALGORITHMS } from './identity/keys.js';
export type { KeySource, ResolvedKeys } from './identity/keys.js';
export { createRevocations } from './identity/revocations.js';
export type { Revocations } from './identity/revocations.js';
export { createGrantGate } from './identity/gate.js';
export type { GrantGate } from './identity/gate.js';
export { grantGuard } from './identity/grant-guard.js';

// Approvals (reauthorization).
export {
  createApprovals,
  elicitationChannel,
  webhookChannel,
  databaseChannel,
} from './approvals/approvals.js';
export type {
  Approvals,
  ApprovalsOptions,
  ApprovalChannel,
  ApprovalAnswer,
  PendingApproval,
} from './approvals/approvals.js';

// Recording and the audit trail.
export { openStore, DEFAULT_DB } from './store/db.js';
export type { Store } from './store/db.js';
export { createRecorder } from './store/recorder.js';
export type { Recorder, RecorderOptions, Commit } from './store/recorder.js';
export { recordingGuard } from './store/guard.js';
export { verifyAudit, pruneSessions } from './store/audit.js';
export type { AuditReport, AuditProblem } from './store/audit.js';
export { listSessions, sessionTimeline, sessionBundles } from './store/queries.js';
export type { RecordedSession, RecordedEvent, SessionBundle } from './store/bundle.js';

// Replay and rule fixtures.
export { replayBundle, readBundles, createReplayClock } from './replay/replay.js';
export type { ReplayResult, ReplayClock } from './replay/replay.js';
export { createReplayPool } from './replay/pool.js';
export type { ReplayPool } from './replay/pool.js';
export { loadFixtures, runFixtures, coverageGaps } from './replay/fixtures.js';

// Alert sinks.
export { toOcsf } from './alerts/ocsf.js';
export { jsonlSink } from './alerts/jsonl.js';
export { webhookSink, signWebhook } from './alerts/webhook.js';
export type { WebhookOptions, WebhookSink } from './alerts/webhook.js';
export { alertStream } from './alerts/ws-stream.js';
export type { AlertStreamOptions, AlertStream } from './alerts/ws-stream.js';
