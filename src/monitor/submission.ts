import type { SessionEvent } from '../model/events.js';
import type { SessionCore } from './handle.js';
import type { Incoming, SessionState } from '../model/session.js';
import type { Decision } from '../model/decision.js';

export interface Step {
  readonly event: SessionEvent;
  readonly state: SessionState;
  readonly decision: Decision;
}

/**
 * A message travelling into the decision pipeline. The pipeline calls `resolve` with its step; the
 * submitter reads `step` at once (synchronous decision) or waits through `waiter`. A class, so the hot
 * path allocates no closure per message.
 */
export class Submission {
  step: Step | undefined = undefined;
  waiter: ((step: Step) => void) | undefined = undefined;
  /** Set by the pipeline's `scan`: the session state after this message, and its event. */
  state: SessionState | undefined = undefined;
  event: SessionEvent | undefined = undefined;
  constructor(
    readonly session: SessionCore,
    readonly incoming: Incoming,
  ) {}
  resolve(step: Step): void {
    this.step = step;
    this.waiter?.(step);
  }
}
