export { createMonitor } from './monitor/create.js';
export type { Monitor } from './monitor/create.js';
export type { MonitorOptions } from './monitor/options.js';
export type { SessionHandle, SessionEndpoint } from './monitor/handle.js';
export { advance, initialState } from './monitor/state.js';
export type { SessionState, PendingRequest, ToolInfo, Incoming } from './model/session.js';
export type {
  Decision,
  Alert,
  Outcome,
  Approver,
  ApprovalRequest,
  OpenSessionOptions,
} from './model/decision.js';
export { tap } from './transports/sdk/tap.js';
export type { TapOptions, TappedTransport } from './transports/sdk/tap.js';
export type { SessionEvent, Direction, EventKind, Identity, CorrelatedRequest } from './model/events.js';
export { classifyMessage } from './events/validate.js';
export { parseIntent } from './intent/parse.js';
export type { Intent, ToolGrant, ArgConstraint, Sensitivity } from './model/intent.js';
export { intentPolicy } from './policy/intent-policy.js';
export type { IntentPolicyOptions } from './policy/intent-policy.js';
export { combinePolicies } from './policy/combine.js';
export { ACTIONS, ACTION_RANK, SEVERITIES } from './model/policy.js';
export type { Policy, PolicyInput, Verdict, Finding, Action, Severity } from './model/policy.js';
export { IntentGuardError, ERROR_CODES, RPC_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { replayBundle, readBundles, parseBundleLine, createReplayClock, summarise } from './replay/replay.js';
export { createReplayPool, replayInOrder, type ReplayPool } from './replay/pool.js';
export { createReplayer, type ReplayJob, type JobOutcome, type DiffLine } from './replay/jobs.js';
export { replayPolicies } from './replay/policies.js';
export type { RecordedSession, RecordedEvent } from './store/bundle.js';
export type { SessionBundle, ReplayResult, ReplayClock } from './replay/replay.js';
export { loadRules, RuleLoadError } from './rules/loader.js';
export { rulesPolicy } from './rules/engine.js';
export type { RulesPolicyOptions, RulesState } from './rules/engine.js';
export { loadRulePack, packPolicies, SHIPPED_RULES_DIR } from './rules/pack.js';
export type { RuleSet, CompiledRule } from './rules/types.js';
export { loadFixtures, runFixtures, coverageGaps } from './replay/fixtures.js';
export { verifyGrant, mintGrant, GrantError } from './identity/grant.js';
export type { VerifiedGrant, GrantPolicy, MintOptions } from './identity/grant.js';
export { resolveKeys, generateKeys, DEFAULT_ALGORITHMS } from './identity/keys.js';
export type { KeySource, ResolvedKeys } from './identity/keys.js';
export { createRevocations } from './identity/revocations.js';
export type { Revocations } from './identity/revocations.js';
export { createGrantGate } from './identity/gate.js';
export { grantGuard } from './identity/grant-guard.js';
export type { GrantGate } from './identity/gate.js';
export { tapWithGrant } from './app/tap-grant.js';
export {
  createApprovals,
  elicitationChannel,
  webhookChannel,
  databaseChannel,
} from './approvals/approvals.js';
export type { Approvals, ApprovalChannel, ApprovalAnswer, PendingApproval } from './approvals/approvals.js';
export { openStore, DEFAULT_DB } from './store/db.js';
export type { Store } from './store/db.js';
export { createRecorder } from './store/recorder.js';
export type { Recorder, Commit } from './store/recorder.js';
export { recordingGuard } from './store/guard.js';
export { verifyAudit, pruneSessions } from './store/audit.js';
export { listSessions, sessionTimeline, sessionBundles, recordedSessions } from './store/queries.js';
export { toOcsf } from './alerts/ocsf.js';
export { jsonlSink } from './alerts/jsonl.js';
export { webhookSink, signWebhook } from './alerts/webhook.js';
export { alertStream } from './alerts/ws-stream.js';
export { runStdioProxy } from './transports/stdio.js';
export { startHttpProxy } from './transports/http/server.js';
export { startWsProxy } from './transports/ws.js';
export { WebSocketServerTransport, listenWebSocket } from './transports/ws-transport.js';
export { createRuntime } from './proxy/runtime.js';
export type { Runtime, RuntimeOptions } from './proxy/runtime.js';
