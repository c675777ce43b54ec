import type { Alert } from '../model/decision.js';
import type { Severity } from '../model/policy.js';
import { redactValue } from '../rules/template.js';

const SEVERITY_ID: Record<Severity, number> = { info: 1, low: 2, medium: 3, high: 4, critical: 5 };
const SEVERITY_NAME: Record<Severity, string> = {
  info: 'Informational',
  low: 'Low',
  medium: 'Medium',
  high: 'High',
  critical: 'Critical',
};

/** OCSF Detection Finding (class 2004), as intentguard emits it. */
export interface OcsfDetectionFinding {
  readonly class_uid: 2004;
  readonly class_name: 'Detection Finding';
  readonly category_uid: 2;
  readonly category_name: 'Findings';
  readonly activity_id: 1;
  readonly activity_name: 'Create';
  readonly type_uid: 200401;
  readonly time: number;
  readonly severity_id: number;
  readonly severity: string;
  readonly status_id: 1;
  readonly status: 'New';
  /** 1 Allowed, 2 Denied. */
  readonly action_id: 1 | 2;
  readonly action: 'Allowed' | 'Denied';
  /** 1 Allowed, 2 Blocked, 17 Logged (alert only). */
  readonly disposition_id: 1 | 2 | 17;
  readonly disposition: string;
  readonly message: string;
  readonly metadata: {
    readonly version: string;
    readonly product: {
      readonly name: 'intentguard';
      readonly vendor_name: 'intentguard';
      readonly version: string;
    };
    readonly uid: string;
    readonly correlation_uid: string;
  };
  readonly finding_info: {
    readonly uid: string;
    readonly title: string;
    readonly desc: string;
    readonly types: readonly string[];
    readonly analytic: {
      readonly uid: string;
      readonly name: string;
      readonly type_id: 1;
      readonly type: 'Rule';
    };
  };
  readonly actor: {
    readonly user: { readonly uid: string; readonly type: 'Agent' };
    readonly session: { readonly uid: string };
  };
  readonly evidences: readonly Record<string, unknown>[];
  readonly unmapped: Record<string, unknown>;
}

/**
 * Shape an alert as an OCSF Detection Finding: time, severity, the verified identity, session, intent
 * purpose and version, rule id and title, the action taken, and evidence — redacted with the rule's
 * redact paths plus secret masking, so alerts do not leak the secrets they report.
 */
export function toOcsf(alert: Alert, version = '0.1.0'): OcsfDetectionFinding {
  const stopping = alert.outcome === 'deny' || alert.outcome === 'halt' || alert.outcome === 'reauthorize';
  // In monitor mode the event was delivered: say what would have happened, and that it was only logged.
  const enforced = stopping && alert.enforced !== false;
  const would = stopping && !enforced ? `would_${alert.outcome}` : undefined;
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    time: alert.time,
    severity_id: SEVERITY_ID[alert.severity],
    severity: SEVERITY_NAME[alert.severity],
    status_id: 1,
    status: 'New',
    action_id: enforced ? 2 : 1,
    action: enforced ? 'Denied' : 'Allowed',
    disposition_id: alert.outcome === 'alert' || alert.outcome === 'allow' || would ? 17 : enforced ? 2 : 1,
    disposition: !enforced
      ? 'Logged'
      : alert.outcome === 'halt'
        ? 'Blocked (session halted)'
        : alert.outcome === 'reauthorize'
          ? 'Blocked (re-authorization required)'
          : 'Blocked',
    message: alert.reason,
    metadata: {
      version: '1.3.0',
      product: { name: 'intentguard', vendor_name: 'intentguard', version },
      uid: alert.id,
      correlation_uid: alert.session,
    },
    finding_info: {
      uid: alert.id,
      title: alert.title ?? alert.rule,
      desc: alert.reason,
      types: [alert.rule.split(/[-/]/)[0] ?? 'intentguard'],
      analytic: { uid: alert.rule, name: alert.title ?? alert.rule, type_id: 1, type: 'Rule' },
    },
    actor: {
      user: { uid: alert.identity?.sub ?? 'unverified', type: 'Agent' },
      session: { uid: alert.session },
    },
    evidences: [
      {
        ...(alert.tool !== undefined && { tool: alert.tool }),
        ...(alert.call !== undefined && { call: alert.call }),
        method: alert.method,
        seq: alert.seq,
        decision: alert.decision,
        ...(alert.evidence && { detail: redactValue(alert.evidence, 'evidence', []) }),
      },
    ],
    unmapped: {
      intent: alert.intent,
      rule_action: alert.action,
      outcome: alert.outcome,
      ...(would && { would }),
      ...(alert.code && { code: alert.code }),
      ...(alert.approvalId && { approval_id: alert.approvalId }),
      ...(alert.identity?.act && { on_behalf_of: alert.identity.act.sub }),
      ...(alert.identity?.jti && { grant_jti: alert.identity.jti }),
    },
  };
}
