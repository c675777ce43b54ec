import { decideInDatabase } from '../approvals/approvals.js';
import { createRevocations } from '../identity/revocations.js';
import { verifyAudit, type AuditReport } from '../store/audit.js';
import type { Store } from '../store/db.js';
import { exportedEvents } from '../store/bundle.js';
import { sqliteGrantLedger, type GrantLedger } from '../store/grant-requests.js';
import { sessionBundles } from '../store/queries.js';
import {
  addNote,
  alertExists,
  alertsOverTime,
  alertsPage,
  approvalDetail,
  approvalRow,
  auditAnchors,
  noteOf,
  pendingApprovals,
  ruleHits,
  sessionRow,
  sessionsPage,
  verifyNotes,
  type AlertFilter,
  type ApprovalRow,
  type ConsoleAlert,
  type ConsoleApproval,
  type ConsoleNote,
  type ConsoleSession,
  type NoteKind,
  type RuleHits,
} from './queries.js';
import { diffCandidateRules, type RulesDiff } from './rules-diff.js';
import { consoleTimeline, type ConsoleEntry } from './timeline.js';

/** A session's timeline as the console shows it. */
interface ConsoleTimeline {
  readonly session: Record<string, unknown>;
  readonly entries: ConsoleEntry[];
  readonly truncated: boolean;
}

/**
 * What the console reads and writes, on either backend: the SQLite file the proxies write, or a
 * fleet's PostgreSQL (every instance's sessions: the whole fleet). Asynchronous because PostgreSQL is;
 * the SQLite implementation answers at once. Lists are bounded and keyset-paginated on both.
 */
export interface ConsoleData {
  readonly kind: 'sqlite' | 'postgres';
  sessionsPage(o: {
    before?: number;
    limit?: number;
  }): Promise<{ sessions: ConsoleSession[]; next: number | null }>;
  sessionRow(id: string): Promise<ConsoleSession | undefined>;
  timeline(id: string): Promise<ConsoleTimeline | undefined>;
  pendingApprovals(now: number, limit?: number): Promise<ConsoleApproval[]>;
  approvalDetail(id: string): Promise<ConsoleApproval | undefined>;
  approvalRow(id: string): Promise<ApprovalRow | undefined>;
  /** Write a decision for the proxy holding the call (as `intentguard approve` does). */
  decide(
    id: string,
    approve: boolean,
    approver: string,
    scope: 'once' | 'session' | 'intent',
  ): Promise<{ tool: string; session: string }>;
  revoke(jti: string, reason: string): Promise<void>;
  alertsPage(
    f: AlertFilter & { before?: number; limit?: number },
  ): Promise<{ alerts: ConsoleAlert[]; next: number | null }>;
  alertExists(id: string): Promise<boolean>;
  alertsOverTime(since: number, until: number, buckets: number): Promise<number[]>;
  ruleHits(since: number): Promise<RuleHits[]>;
  auditAnchors(limit?: number): Promise<{ rowid: number; kind: string; at: number; detail: string }[]>;
  addNote(kind: NoteKind, target: string, value: string, by: string, at: number): Promise<ConsoleNote>;
  noteOf(kind: NoteKind, target: string): Promise<ConsoleNote | undefined>;
  verifyNotes(): Promise<{ notes: number; broken: { rowid: number; why: string } | null }>;
  verifyAudit(): Promise<AuditReport>;
  /** Export lines (JSON bundles) of one session, or of all. */
  exportLines(session?: string): Promise<string[]>;
  rulesDiff(o: { dir?: string; text?: string; since: number }): Promise<RulesDiff>;
  /** A value that changes whenever the store does (polled for live updates). */
  changeMark(): Promise<string>;
  readonly grants: GrantLedger;
  close(): Promise<void>;
}

/** Export lines of the bundles of a SQLite store (or a PostgreSQL snapshot). */
export function exportLinesOf(store: Store, session?: string): string[] {
  const lines: string[] = [];
  for (const b of sessionBundles(store, { ...(session && { session }) })) {
    const { recorded: _r, ...bundle } = b;
    lines.push(JSON.stringify({ ...bundle, events: exportedEvents(bundle) }));
  }
  return lines;
}

/** The console's data in a SQLite store (the store stays the caller's to close). */
export function sqliteConsoleData(store: Store, clock: () => number = Date.now): ConsoleData {
  const revocations = createRevocations(store, clock);
  // SQLite's data_version counts other connections' commits; this connection's own are counted here.
  const dataVersion = store.db.prepare('PRAGMA data_version').pluck();
  return {
    kind: 'sqlite',
    sessionsPage: async (o) => sessionsPage(store, o),
    sessionRow: async (id) => sessionRow(store, id),
    timeline: async (id) => consoleTimeline(store, id),
    pendingApprovals: async (now, limit) => pendingApprovals(store, now, limit),
    approvalDetail: async (id) => approvalDetail(store, id),
    approvalRow: async (id) => approvalRow(store, id),
    decide: async (id, approve, approver, scope) => decideInDatabase(store, id, approve, approver, scope),
    revoke: async (jti, reason) => revocations.revoke({ jti }, reason),
    alertsPage: async (f) => alertsPage(store, f),
    alertExists: async (id) => alertExists(store, id),
    alertsOverTime: async (since, until, buckets) => alertsOverTime(store, since, until, buckets),
    ruleHits: async (since) => ruleHits(store, since),
    auditAnchors: async (limit) => auditAnchors(store, limit),
    addNote: async (kind, target, value, by, at) => addNote(store, kind, target, value, by, at),
    noteOf: async (kind, target) => noteOf(store, kind, target),
    verifyNotes: async () => verifyNotes(store),
    verifyAudit: async () => verifyAudit(store),
    exportLines: async (session) => exportLinesOf(store, session),
    rulesDiff: (o) => diffCandidateRules(store, o),
    changeMark: async () => String(dataVersion.get()),
    grants: sqliteGrantLedger(store),
    close: async () => undefined,
  };
}
