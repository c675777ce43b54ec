import { approvalIdFor } from '../model/approval-id.js';
import type { ApprovalRequest, Approver } from '../model/decision.js';

/** Where one URL-mode approval stands. */
export type UrlApprovalState = 'pending' | 'approved' | 'denied' | 'unknown';

/** What the store shared by a fleet says of one approval (its row in the approvals table). */
export interface SharedApproval {
  readonly state: UrlApprovalState;
  /** When the held call stops waiting (ms since the epoch); absent for an unknown approval. */
  readonly expiresAt?: number;
  /** How far an approved one reaches (`once` when the table says nothing), and who approved it. */
  readonly scope?: 'once' | 'session' | 'intent';
  readonly approver?: string;
}

/**
 * An approval page outside the agent's reach (the console's `/approvals/ID`): held 2026-07-28 calls are
 * asked in URL mode pointing at it, and decided there by its approvers — never by the client's answer.
 */
export interface ApprovalPage {
  /** The page of one approval; undefined while no page is serving (the call is then asked in form mode). */
  url(approvalId: string): string | undefined;
  /**
   * A fleet: read an approval another instance held from the shared approvals table, so a retry that
   * lands here (that instance died, this one took its session over) is decided by what the approvers
   * decided, not refused for not being held here. Rejects when the store cannot answer (refused).
   */
  shared?(approvalId: string): Promise<SharedApproval>;
}

/** Held calls of 2026-07-28 sessions, asked on the approval page while the client goes away and retries. */
export interface UrlApprovals {
  /**
   * Hold the call under its approval id (`apr-` + the decision's id) and ask the approvers behind the
   * page (`inner`: the runtime's approvals, which record it and wait for the console's decision) in the
   * background — the request itself is answered at once with `input_required`. True when `inner`
   * approves at once (a standing session approval covers the call): then nothing is held.
   */
  hold(inner: Approver, request: ApprovalRequest): Promise<boolean>;
  /** What was decided about an approval this gate holds. */
  state(approvalId: string): UrlApprovalState;
  /** Until when an approval held here waits for its decision (ms since the epoch); undefined if unknown. */
  until(approvalId: string): number | undefined;
  /** An approved approval is used once: forgotten (its id is `unknown` after). */
  take(approvalId: string): void;
}

/** Most approvals remembered at once; past it the oldest decided ones go. */
const MAX_HELD = 4096;

/**
 * The background half of URL-mode approvals. Each held call waits at most `timeoutMs` (the approvals'
 * timeout: then it is expired, a deny) or until its session ends.
 */
export function urlApprovals(timeoutMs: number, clock: () => number = Date.now): UrlApprovals {
  const held = new Map<string, { state: UrlApprovalState; until: number }>();
  const forget = () => {
    for (const [id, s] of held) {
      if (held.size < MAX_HELD) return;
      if (s.state !== 'pending') held.delete(id);
    }
  };
  return {
    async hold(inner, request) {
      const id = approvalIdFor(request.decision);
      const until = clock() + timeoutMs;
      // The monitor aborts its own signal when the approver returns: the wait has a signal of its own.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      timer.unref?.();
      const asked = Promise.resolve(inner({ ...request, signal: controller.signal })).catch(() => false);
      // Answered before anything could be asked: a standing approval (session scope) covers the call.
      const now = await Promise.race([
        asked,
        new Promise<'later'>((resolve) => setImmediate(() => resolve('later'))),
      ]);
      if (now !== 'later') {
        clearTimeout(timer);
        controller.abort();
        return now;
      }
      if (held.size >= MAX_HELD) forget();
      held.set(id, { state: 'pending', until });
      void asked.then((ok) => {
        clearTimeout(timer);
        controller.abort();
        if (held.has(id)) held.set(id, { state: ok ? 'approved' : 'denied', until });
      });
      return false;
    },
    state: (id) => held.get(id)?.state ?? 'unknown',
    until: (id) => held.get(id)?.until,
    take: (id) => void held.delete(id),
  };
}
