import { createHmac, timingSafeEqual } from 'node:crypto';
import { approvalIdFor } from '../model/approval-id.js';
import { canonicalJson, digest } from '../lib/canonical.js';
import { resolvedLocation, underPrefix } from '../intent/location-match.js';
import { resourcesOf } from '../intent/resource-args.js';
import type { Intent } from '../model/intent.js';
import { RESOURCE_RULES } from '../policy/resource-scope.js';
import type { Monitor } from '../monitor/create.js';
import type { AdoptedApproval, ApprovalRequest, ApprovalScope, Approver } from '../model/decision.js';
import { redactValue, renderMessage } from '../rules/template.js';
import type { Store } from '../store/db.js';
import { appendApproval, sealApproval, type ApprovalRecord } from '../store/ledger.js';

/** What an approver is asked: one held call, bound to who, where, what and which approval version. */
export interface PendingApproval {
  readonly id: string;
  readonly session: string;
  readonly sub: string;
  readonly tool: string;
  /** SHA-256 of the canonical JSON of the arguments: an approval covers exactly these arguments. */
  readonly argsDigest: string;
  /** The arguments with secrets and long values masked, for people to read. */
  readonly argsSummary: unknown;
  readonly intentVersion: number;
  readonly purpose: string;
  readonly reason: string;
  readonly rules: readonly string[];
  readonly requestedAt: number;
  readonly expiresAt: number;
}

/**
 * An approver's answer. `scope`: `once` (this call), `session` (this tool for the rest of the session,
 * at this intent version), `intent` (widen the intent with this tool: a new intent version).
 */
export interface ApprovalAnswer {
  readonly approved: boolean;
  readonly approver: string;
  readonly scope?: 'once' | 'session' | 'intent';
  /** When given, must name this approval and these arguments (a replayed answer is refused). */
  readonly approvalId?: string;
  readonly argsDigest?: string;
  readonly reason?: string;
}

/** A way of asking someone: resolves with an answer, or never (another channel or the timeout wins). */
export type ApprovalChannel = (
  pending: PendingApproval,
  context: { monitor: Monitor; signal: AbortSignal },
) => Promise<ApprovalAnswer | undefined>;

export interface Approvals {
  /** Give this to `createMonitor({ approver })`. */
  readonly approver: Approver;
  /** Decide a pending approval from outside (CLI, console). */
  decide(id: string, answer: ApprovalAnswer): void;
  /**
   * An approval decided for a call another instance held (a fleet: that instance died and this one took
   * its session over), released here by the shared table: its row is sealed, and its scope (`session`,
   * `intent`) applies here as it would have on the holder — not only to the one call it released.
   */
  adopt(req: ApprovalRequest, decided: AdoptedApproval): Promise<void>;
  pending(): PendingApproval[];
  /**
   * Shutting down: every held call is denied now (fail closed) and sealed `expired` by `shutdown` while
   * the record is still open; resolves once each has settled. Calls held after it are denied at once.
   * Call it before the store closes.
   */
  close(): Promise<void>;
  /** Approvals decided so far (who approved what), newest last. */
  history(): (PendingApproval & {
    status: 'approved' | 'denied' | 'expired' | 'rejected';
    approver: string;
    decidedAt: number;
  })[];
}

/** Where held approvals are recorded when the store is not SQLite (a fleet's PostgreSQL: asynchronous). */
export interface ApprovalLedger {
  /** Record a held call, chained; a failure denies the call (fail closed). */
  append(a: ApprovalRecord): Promise<void>;
  /** Seal its decision onto its row. */
  seal(
    id: string,
    d: { status: string; approver: string; scope: string | null; decided_at: number },
  ): Promise<void>;
}

export interface ApprovalsOptions {
  readonly channels: readonly ApprovalChannel[];
  readonly store?: Store;
  /** Instead of `store`: an asynchronous approval record (src/fleet/approvals.ts). */
  readonly ledger?: ApprovalLedger;
  readonly clock?: () => number;
  /** How long an approval may take to be answered; also the expiry stamped on it. Default 60 s. */
  readonly timeoutMs?: number;
  /** Someone may call `decide()` (a console): wait for the timeout even when no channel can ask. */
  readonly external?: boolean;
  /** Told about every held call someone can answer (to log how to approve it). */
  readonly onPending?: (pending: PendingApproval) => void;
  /**
   * Told about a call that needed an approval nobody could give (no channel configured, or every channel
   * unable to ask): it is denied at once, never "held".
   */
  readonly onNoApprover?: (pending: PendingApproval) => void;
}

/** What a session-scope approval covers: the tool, for the reasons it was held, within the folders and hosts of the approved call. */
interface SessionGrant {
  readonly rules: ReadonlySet<string>;
  /** Folders of the paths the approved call named (`/srv/project/` for `/srv/project/a.md`). */
  readonly dirs: readonly string[];
  readonly hosts: ReadonlySet<string>;
}

const ARGUMENT_RULES = new Set<string>(RESOURCE_RULES);

/** The folders and hosts a call's arguments name (as written, normalised). */
function locationsOf(
  args: Readonly<Record<string, unknown>>,
  schema: unknown,
): { dirs: string[]; paths: string[]; hosts: string[]; complete: boolean } {
  const scan = resourcesOf(args, schema);
  const dirs: string[] = [],
    paths: string[] = [],
    hosts: string[] = [];
  for (const r of scan.resources) {
    if (r.kind === 'url') {
      try {
        hosts.push(new URL(r.value).host.toLowerCase());
      } catch {
        hosts.push(`unparsed:${r.value}`);
      }
      continue;
    }
    const p = resolvedLocation(r.value);
    paths.push(p);
    const cut = p.lastIndexOf('/');
    dirs.push(cut < 0 ? '' : p.slice(0, cut + 1));
  }
  return { dirs, paths, hosts, complete: scan.complete };
}

/**
 * Does a session-scope approval cover this later call? Only when it is held for reasons the approval
 * was given for (never for a finding about its arguments: out of scope, sensitive, against a
 * constraint), and every path it names lies in a folder the approved call named, every URL on a host
 * it named. A later `write_file` into `private/` after an approval for `project/notes.md` is asked again.
 */
function coveredBy(
  g: SessionGrant,
  rules: readonly string[],
  where: ReturnType<typeof locationsOf>,
): boolean {
  if (!where.complete) return false;
  if (rules.some((r) => ARGUMENT_RULES.has(r) || !g.rules.has(r))) return false;
  if (!where.paths.every((p) => g.dirs.some((d) => underPrefix(p, d)))) return false;
  return where.hosts.every((h) => g.hosts.has(h));
}

/**
 * Re-authorization: hold the call, ask the channels (elicitation to the client's user, a signed webhook,
 * the `intentguard approve` command), and let it through only on an answer bound to this very call.
 * Session-scoped approvals let the same tool through for the rest of the session at the same intent
 * version, for the same reasons and within the folders and hosts of the approved call; an intent-scoped approval widens the intent (a new version later rules evaluate against).
 */
export function createApprovals(monitor: () => Monitor, options: ApprovalsOptions): Approvals {
  const clock = options.clock ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const store = options.store;
  const waiting = new Map<string, { pending: PendingApproval; resolve: (a: ApprovalAnswer) => void }>();
  const decided: ReturnType<Approvals['history']> = [];
  const sessionGrants = new Map<string, SessionGrant>();
  /** The held calls' own abort (close() cuts them all) and their settling, for close() to wait on. */
  const holding = new Map<AbortController, Promise<unknown>>();
  let closed = false;
  /** Seals not yet written (a fleet's ledger is asynchronous): close() waits for them too. */
  const sealing = new Set<Promise<void>>();

  /** Chained and sealed in the record: who decided, what scope, when (see src/store/ledger.ts). */
  const seal = async (
    id: string,
    d: { status: string; approver: string; scope: string | null; decided_at: number },
  ) => {
    if (store) sealApproval(store, id, d);
    else await options.ledger?.seal(id, d).catch(() => undefined);
  };

  const record = (
    p: PendingApproval,
    status: 'approved' | 'denied' | 'expired' | 'rejected',
    approver: string,
    scope: string | null,
  ) => {
    const at = clock();
    const sealed = seal(p.id, { status, approver, scope, decided_at: at });
    sealing.add(sealed);
    const done = () => void sealing.delete(sealed);
    sealed.then(done, done);
    decided.push({ ...p, status, approver, decidedAt: at });
    if (decided.length > 10_000) decided.shift();
  };

  /**
   * What an approval's scope grants beyond its one call: `session`, the same tool for the rest of the
   * session at this intent version, for the same reasons, within the folders and hosts of this call;
   * `intent`, the tool added to the session's intent (a new version, recorded as a control event).
   */
  const standing = async (req: ApprovalRequest, scope: ApprovalScope, by: string): Promise<void> => {
    const tool = req.event.tool ?? req.event.method ?? '';
    if (scope === 'session') {
      const grantKey = `${req.session}\u0000${tool}\u0000${req.intent.version}`;
      const schema = monitor().session(req.session)?.state().tools.get(tool)?.inputSchema;
      const enforcing = req.decision.findings.filter((f) => f.action === req.decision.action);
      const earlier = sessionGrants.get(grantKey);
      const where = locationsOf(req.event.args ?? {}, schema);
      sessionGrants.set(grantKey, {
        rules: new Set([...(earlier?.rules ?? []), ...enforcing.map((f) => f.rule)]),
        dirs: [...(earlier?.dirs ?? []), ...where.dirs],
        hosts: new Set([...(earlier?.hosts ?? []), ...where.hosts]),
      });
    }
    if (scope === 'intent') {
      const handle = monitor().session(req.session);
      if (handle && req.intent.tools !== '*' && !req.intent.tools.some((t) => t.name === tool)) {
        const widened: Intent = { ...req.intent, tools: [...req.intent.tools, { name: tool }] };
        await handle.amendIntent(widened, by);
      }
    }
  };

  const approver: Approver = (req: ApprovalRequest) => {
    if (closed) return Promise.resolve(false);
    const controller = new AbortController();
    const settled = hold(req, controller).finally(() => holding.delete(controller));
    holding.set(controller, settled);
    return settled;
  };

  const hold = async (req: ApprovalRequest, controller: AbortController): Promise<boolean> => {
    const event = req.event;
    const tool = event.tool ?? event.method ?? '';
    const args = event.args ?? {};
    const sub = event.identity?.sub ?? 'unverified';
    const grantKey = `${req.session}\u0000${tool}\u0000${req.intent.version}`;
    const enforcing = req.decision.findings.filter((f) => f.action === req.decision.action);
    const schema = monitor().session(req.session)?.state().tools.get(tool)?.inputSchema;
    const covered = sessionGrants.get(grantKey);
    if (
      covered &&
      coveredBy(
        covered,
        enforcing.map((f) => f.rule),
        locationsOf(args, schema),
      )
    )
      return true;
    const pending: PendingApproval = {
      id: approvalIdFor(req.decision),
      session: req.session,
      sub,
      tool,
      argsDigest: digest(args, 64),
      argsSummary: redactValue(args, 'call.args', []),
      intentVersion: req.intent.version,
      purpose: req.intent.purpose,
      reason: enforcing.map((f) => f.reason).join('; '),
      rules: enforcing.map((f) => f.rule),
      requestedAt: clock(),
      expiresAt: clock() + timeoutMs,
    };
    const row: ApprovalRecord = {
      id: pending.id,
      session_id: pending.session,
      decision_id: req.decision.id,
      sub,
      tool,
      args_digest: pending.argsDigest,
      intent_version: pending.intentVersion,
      reason: pending.reason,
      requested_at: pending.requestedAt,
      expires_at: pending.expiresAt,
    };
    if (store) appendApproval(store, row);
    // Not recorded, not held: a call nobody could find to approve is denied.
    else if (
      options.ledger &&
      !(await options.ledger.append(row).then(
        () => true,
        () => false,
      ))
    )
      return false;
    if (controller.signal.aborted) {
      record(pending, 'expired', 'shutdown', null);
      return false;
    }
    req.signal.addEventListener('abort', () => controller.abort(), { once: true });
    const external = new Promise<ApprovalAnswer>((resolve) => waiting.set(pending.id, { pending, resolve }));
    // A channel that cannot ask (no elicitation capability, say) answers undefined; when no channel can
    // ask and nobody outside is waiting to decide, the call is denied at once instead of at the timeout.
    let declined = 0;
    let allDeclined: (v: undefined) => void = () => {};
    const none = new Promise<undefined>((r) => {
      allDeclined = r;
    });
    const asked = options.channels.map((ch) =>
      ch(pending, { monitor: monitor(), signal: controller.signal }).then(
        (a) =>
          a ??
          new Promise<never>(() => {
            if (++declined === options.channels.length && !options.external) allDeclined(undefined);
          }),
        () =>
          new Promise<never>(() => {
            if (++declined === options.channels.length && !options.external) allDeclined(undefined);
          }),
      ),
    );
    if (options.channels.length === 0 && !options.external) allDeclined(undefined);
    else if (options.onPending) options.onPending(pending);
    let answer: ApprovalAnswer | undefined;
    try {
      answer = await Promise.race([
        external,
        none,
        ...asked,
        new Promise<undefined>((r) =>
          controller.signal.addEventListener('abort', () => r(undefined), { once: true }),
        ),
      ]);
    } finally {
      waiting.delete(pending.id);
      controller.abort();
    }
    if (!answer && closed) {
      record(pending, 'expired', 'shutdown', null);
      return false;
    }
    if (!answer) {
      if (declined === options.channels.length && !options.external) options.onNoApprover?.(pending);
      record(
        pending,
        declined === options.channels.length && !options.external ? 'denied' : 'expired',
        declined === options.channels.length ? 'no approver available' : 'timeout',
        null,
      );
      return false;
    }
    // An answer for another approval, or for other arguments, is refused: approvals cannot be replayed.
    if (
      (answer.approvalId !== undefined && answer.approvalId !== pending.id) ||
      (answer.argsDigest !== undefined && answer.argsDigest !== pending.argsDigest)
    ) {
      record(pending, 'rejected', answer.approver, null);
      return false;
    }
    if (!answer.approved || clock() > pending.expiresAt) {
      record(pending, answer.approved ? 'expired' : 'denied', answer.approver, null);
      return false;
    }
    record(pending, 'approved', answer.approver, answer.scope ?? 'once');
    await standing(req, answer.scope ?? 'once', answer.approver);
    return true;
  };

  return {
    approver,
    async adopt(req, adopted) {
      // Sealed here (its holder is gone, so nobody else will), then its scope applies as if held here.
      const { id, approver: by, scope } = adopted;
      await seal(id, { status: 'approved', approver: by, scope, decided_at: clock() });
      await standing(req, scope, by);
    },
    decide(id, answer) {
      const w = waiting.get(id);
      if (!w) throw new Error(`no pending approval ${id}`);
      w.resolve(answer);
    },
    pending: () => [...waiting.values()].map((w) => w.pending),
    history: () => [...decided],
    async close() {
      closed = true;
      for (const c of holding.keys()) c.abort();
      await Promise.allSettled(holding.values());
      await Promise.allSettled(sealing);
    },
  };
}

/** Ask the client's user with an MCP elicitation, when the client declared the capability. */
export function elicitationChannel(): ApprovalChannel {
  return async (p, { monitor, signal }) => {
    const handle = monitor.session(p.session);
    if (!handle || !handle.state().clientCapabilities?.elicitation) return undefined;
    const message = renderMessage(
      'intentguard: the agent {{sub}} wants to call {{tool}} with {{args}}. This exceeds its approval ("{{purpose}}"): {{reason}}. Allow it?',
      { sub: p.sub, tool: p.tool, args: p.argsSummary, purpose: p.purpose, reason: p.reason },
      [],
    );
    const answer = (await handle.askClient(
      'elicitation/create',
      {
        message,
        requestedSchema: {
          type: 'object',
          properties: {
            approve: { type: 'boolean', title: 'Allow this call', description: 'Let this one call through' },
            scope: {
              type: 'string',
              title: 'For',
              enum: ['once', 'session'],
              enumNames: ['this call only', `${p.tool} for the rest of this session`],
            },
          },
          required: ['approve'],
        },
      },
      signal,
    )) as { result?: { action?: string; content?: { approve?: unknown; scope?: unknown } } };
    const r = answer.result;
    if (!r || r.action !== 'accept')
      return { approved: false, approver: 'user:elicitation', reason: r?.action ?? 'error' };
    return {
      approved: r.content?.approve === true,
      approver: 'user:elicitation',
      scope: r.content?.scope === 'session' ? 'session' : 'once',
      approvalId: p.id,
      argsDigest: p.argsDigest,
    };
  };
}

const sign = (secret: string, ts: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
const same = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Ask an HTTP endpoint: POST of the pending approval (signed `X-Intentguard-Signature`), answered with
 * `{decision: "approve"|"deny", approver, scope?, approval_id, args_digest}` signed the same way.
 */
export function webhookChannel(url: string, secret: string, clock: () => number = Date.now): ApprovalChannel {
  return async (p, { signal }) => {
    const body = canonicalJson({
      approval_id: p.id,
      session: p.session,
      sub: p.sub,
      tool: p.tool,
      args_summary: p.argsSummary,
      args_digest: p.argsDigest,
      intent_version: p.intentVersion,
      purpose: p.purpose,
      reason: p.reason,
      rules: p.rules,
      expires_at: p.expiresAt,
    });
    const ts = String(Math.floor(clock() / 1000));
    const res = await fetch(url, {
      method: 'POST',
      body,
      signal,
      headers: {
        'content-type': 'application/json',
        'x-intentguard-timestamp': ts,
        'x-intentguard-signature': sign(secret, ts, body),
      },
    });
    const text = await res.text();
    const rts = res.headers.get('x-intentguard-timestamp') ?? '';
    const rsig = res.headers.get('x-intentguard-signature') ?? '';
    if (!res.ok || !same(rsig, sign(secret, rts, text)))
      return {
        approved: false,
        approver: `webhook:${url}`,
        reason: `unsigned or failed answer (HTTP ${res.status})`,
      };
    const a = JSON.parse(text) as {
      decision?: string;
      approver?: string;
      scope?: string;
      approval_id?: string;
      args_digest?: string;
    };
    return {
      approved: a.decision === 'approve',
      approver: `webhook:${a.approver ?? url}`,
      scope: a.scope === 'session' || a.scope === 'intent' ? a.scope : 'once',
      ...(a.approval_id !== undefined && { approvalId: a.approval_id }),
      ...(a.args_digest !== undefined && { argsDigest: a.args_digest }),
    };
  };
}

/** Wait for `intentguard approve|deny ID` (written to the approvals table) by polling the database. */
export function databaseChannel(store: Store, pollMs = 250): ApprovalChannel {
  const get = store.db.prepare('SELECT status, approver, scope FROM approvals WHERE id = ?');
  return (p, { signal }) =>
    new Promise<ApprovalAnswer | undefined>((resolve) => {
      const timer = setInterval(() => {
        let row: { status: string; approver: string | null; scope: string | null } | undefined;
        try {
          row = get.get(p.id) as typeof row;
        } catch {
          // The store closed under the wait (shutting down): nothing can be read, the call is not released.
          clearInterval(timer);
          resolve(undefined);
          return;
        }
        if (!row || row.status === 'pending') return;
        clearInterval(timer);
        if (row.status === 'cli-approved' || row.status === 'cli-denied') {
          resolve({
            approved: row.status === 'cli-approved',
            approver: row.approver ?? 'cli',
            scope: row.scope === 'session' || row.scope === 'intent' ? row.scope : 'once',
            approvalId: p.id,
          });
        } else resolve(undefined);
      }, pollMs);
      signal.addEventListener(
        'abort',
        () => {
          clearInterval(timer);
          resolve(undefined);
        },
        { once: true },
      );
    });
}

/** `intentguard approve|deny ID`: mark a pending approval in the database for the waiting monitor. */
export function decideInDatabase(
  store: Store,
  id: string,
  approve: boolean,
  approver: string,
  scope: 'once' | 'session' | 'intent' = 'once',
): { tool: string; session: string } {
  const row = store.db.prepare('SELECT status, tool, session_id FROM approvals WHERE id = ?').get(id) as
    { status: string; tool: string; session_id: string } | undefined;
  if (!row) throw Object.assign(new Error(`no approval ${id}`), { code: 'ERR_APPROVAL_NOT_FOUND' });
  if (row.status !== 'pending')
    throw Object.assign(new Error(`approval ${id} is already ${row.status}`), { code: 'ERR_APPROVAL_DONE' });
  store.db
    .prepare("UPDATE approvals SET status = ?, approver = ?, scope = ? WHERE id = ? AND status = 'pending'")
    .run(approve ? 'cli-approved' : 'cli-denied', approver, scope, id);
  return { tool: row.tool, session: row.session_id };
}
