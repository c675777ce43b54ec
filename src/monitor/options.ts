import type { SchedulerLike } from 'rxjs';
import type { Approver } from '../model/decision.js';
import type { Policy } from '../model/policy.js';
import type { Visibility } from '../visibility/visibility.js';

export interface MonitorOptions {
  /** Policies to decide with (all run; strongest action wins). Default: the built-in {@link intentPolicy}. */
  readonly policy?: Policy<any> | readonly Policy<any>[];
  /** Milliseconds since the epoch. Default `Date.now`. Tests inject a frozen clock. */
  readonly clock?: () => number;
  /** `enforce` (default) applies decisions; `monitor` only observes and alerts. */
  readonly mode?: 'enforce' | 'monitor';
  /** A policy that has not answered after this many ms is a deny. Default 2000. */
  readonly decisionTimeoutMs?: number;
  /** Largest accepted message in bytes. Default 4 MiB. */
  readonly maxMessageBytes?: number;
  /** Most requests in flight per session. Default 1024. */
  readonly maxPending?: number;
  /** Asked on `reauthorize`; without one, `reauthorize` is a deny. */
  readonly approver?: Approver;
  /** How long an approver may take before the call is denied. Default 60000 ms. */
  readonly approvalTimeoutMs?: number;
  /** Scheduler for decision and approval timeouts (tests use a virtual one). */
  readonly scheduler?: SchedulerLike;
  /** `approved`: every session's `tools/list` offers only the approved tools (an intent may also ask for it). */
  readonly visibility?: Visibility;
}

export interface ResolvedMonitorOptions {
  readonly clock: () => number;
  readonly mode: 'enforce' | 'monitor';
  readonly decisionTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly maxPending: number;
  readonly approvalTimeoutMs: number;
  readonly approver?: Approver;
  readonly scheduler: SchedulerLike;
  readonly visibility?: Visibility;
}
