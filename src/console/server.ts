import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IntentGuardError } from '../errors.js';
import { listen } from '../lib/listen.js';
import { parseDuration } from '../lib/duration.js';
import type { Store } from '../store/db.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import {
  atLeast,
  createConsoleAuth,
  csrfMatches,
  type ConsoleAuthOptions,
  type Login,
  type Principal,
  type Role,
  approverOf,
} from './auth.js';
import {
  createGrantIssuer,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE,
  type GrantIssuer,
  type GrantIssuerOptions,
} from './grants.js';
import { bad, bearer, cookie, readBody, redirect, send, sendHtml, sendJson, statusOf } from './http.js';
import { createLiveHub } from './live.js';
import * as pages from './pages.js';
import { NOTE_VALUES, type AlertFilter } from './queries.js';
import { sqliteConsoleData, type ConsoleData } from './data.js';
import { href, seg, type Html } from './escape.js';

export interface ConsoleOptions extends ConsoleAuthOptions {
  /** A SQLite store (the caller closes it), or `data`: the console's reads and writes on either backend. */
  readonly store?: Store;
  readonly data?: ConsoleData;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Host header values accepted besides the listen address. */
  readonly allowedHosts?: readonly string[];
  /** Grant requests (POST /token): where and how grants are minted. Absent: /token answers unsupported. */
  readonly grants?: Omit<GrantIssuerOptions, 'ledger' | 'clock'>;
  /** How often the store is polled for changes (default 200 ms). */
  readonly pollMs?: number;
  /** When the console runs inside a proxy: halt a session at once (besides revoking its grant). */
  readonly halt?: (session: string, reason: string) => void;
}

export interface ConsoleServer {
  readonly url: string;
  readonly port: number;
  readonly grants?: GrantIssuer;
  close(): Promise<void>;
}

const COOKIE = 'ig_console';

/** A path segment (an id), percent-decoded; a malformed escape is a bad request, not a server error. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw bad(`malformed path segment ${JSON.stringify(segment)}`);
  }
}

/** Who is asking: a login cookie (pages), or a bearer credential (scripts: no ambient authority, no CSRF). */
interface Caller {
  readonly principal: Principal;
  readonly login?: Login;
}

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
  params: string[],
  url: URL,
  body: () => Promise<Record<string, unknown>>,
) => Promise<void> | void;

/** Bars in the rules view's alerts-over-time chart. */
const CHART_BUCKETS = 24;

/** The periods the rules view counts over. */
const PERIODS = ['1h', '24h', '7d', '30d'];
const periodOf = (v: unknown): string => {
  const period = v === undefined || v === '' ? '24h' : v;
  if (typeof period !== 'string' || !PERIODS.includes(period)) throw bad('period must be 1h, 24h, 7d or 30d');
  return period;
};

/**
 * The security console: server-rendered pages and JSON under /api/ over the same store the proxies
 * write. Every route but `/login` (and the token endpoint, which authenticates its own caller) answers
 * 401 without a valid login; state changes from pages need the login's CSRF token and a same-origin
 * `Origin`; roles gate what each login may do; an approver never decides a call made under their own
 * identity.
 * @example const c = await startConsole({ store: openStore('intentguard.db'), port: 8700, token: 'secret' })
 */
export async function startConsole(o: ConsoleOptions): Promise<ConsoleServer> {
  const clock = o.clock ?? Date.now;
  if (!o.data && !o.store) throw new IntentGuardError('ERR_CONFIG', 'the console needs a store');
  const data = o.data ?? sqliteConsoleData(o.store!, clock);
  const auth = createConsoleAuth(o);
  const hub = await createLiveHub(() => data.changeMark(), o.pollMs);
  const grants = o.grants ? await createGrantIssuer({ ...o.grants, ledger: data.grants, clock }) : undefined;
  const host = o.host ?? '127.0.0.1';

  const need = (caller: Caller, role: Role) => {
    if (!atLeast(caller.principal.role, role))
      throw new IntentGuardError(
        'ERR_CONSOLE_ROLE',
        `this needs the ${role} role; ${caller.principal.sub} is ${caller.principal.role}`,
      );
  };
  const page = (
    res: ServerResponse,
    caller: Caller,
    title: string,
    path: string,
    body: Html,
    live = true,
  ) => {
    if (!caller.login) throw bad('pages need a browser login (POST /login); scripts use /api/');
    sendHtml(res, 200, pages.layout(title, caller.login, path, body, hub.version, live));
  };
  const str = (u: URL, k: string) => u.searchParams.get(k) ?? undefined;
  const int = (u: URL, k: string) => {
    const v = u.searchParams.get(k);
    if (v === null || v === '') return undefined;
    if (!/^\d{1,15}$/.test(v)) throw bad(`?${k} must be a whole number`);
    return Number(v);
  };

  /** Decide a held call: approver role, never one's own call, only while it is pending and not expired. */
  const decideApproval = async (caller: Caller, id: string, decision: unknown, scope: unknown) => {
    need(caller, 'approver');
    if (decision !== 'approve' && decision !== 'deny') throw bad('decision must be "approve" or "deny"');
    if (scope !== undefined && scope !== 'once' && scope !== 'session' && scope !== 'intent')
      throw bad('scope must be "once", "session" or "intent" (widen the intent with this tool)');
    if (scope === 'intent' && decision !== 'approve') throw bad('only an approval widens the intent');
    const row = await data.approvalRow(id);
    if (!row) throw new IntentGuardError('ERR_APPROVAL_NOT_FOUND', `no approval ${id}`);
    const me = caller.principal.sub;
    if (row.sub === me || row.act === me)
      throw new IntentGuardError(
        'ERR_CONSOLE_SELF_APPROVAL',
        `approval ${id} is for a call made under your own identity (${me})`,
      );
    if (row.status === 'pending' && row.expiresAt <= clock())
      throw new IntentGuardError('ERR_APPROVAL_DONE', `approval ${id} has expired`);
    const approver = approverOf(caller.principal);
    const r = await data.decide(
      id,
      decision === 'approve',
      approver,
      (scope as 'once' | 'session' | 'intent' | undefined) ?? 'once',
    );
    hub.bump();
    return { id, decision, scope: scope ?? 'once', approver, ...r };
  };

  const revokeSession = async (caller: Caller, id: string) => {
    need(caller, 'approver');
    const s = await data.sessionRow(id);
    if (!s) throw new IntentGuardError('ERR_NOT_FOUND', `no session ${id}`);
    if (!s.jti) throw bad(`session ${id} has no grant to revoke`);
    const reason = `revoked from the console by ${caller.principal.sub}`;
    await data.revoke(s.jti, reason);
    o.halt?.(id, reason);
    hub.bump();
    return { session: id, jti: s.jti, revoked: true };
  };

  /** Acknowledge an alert (approver): recorded once, with who and when; acknowledging again changes nothing. */
  const acknowledge = async (caller: Caller, id: string) => {
    need(caller, 'approver');
    if (!(await data.alertExists(id))) throw new IntentGuardError('ERR_NOT_FOUND', `no alert ${id}`);
    const ack =
      (await data.noteOf('ack', id)) ??
      (await data.addNote('ack', id, 'acknowledged', caller.principal.sub, clock()));
    hub.bump();
    return { alert: id, acknowledged: { by: ack.by, at: ack.at } };
  };

  /** An analyst's mark on a session (approver): benign, attack, or none (cleared). */
  const mark = async (caller: Caller, id: string, value: unknown) => {
    need(caller, 'approver');
    if (!NOTE_VALUES.mark.includes(value as never)) throw bad('mark must be "benign", "attack" or "none"');
    if (!(await data.sessionRow(id))) throw new IntentGuardError('ERR_NOT_FOUND', `no session ${id}`);
    const n = await data.addNote('mark', id, value as string, caller.principal.sub, clock());
    hub.bump();
    return { session: id, mark: n.value === 'none' ? null : n.value, by: n.by, at: n.at };
  };

  const alertFilter = (get: (k: string) => unknown): AlertFilter => {
    const text = (k: string) => {
      const v = get(k);
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    const state = text('state');
    if (state !== undefined && state !== 'open' && state !== 'acknowledged')
      throw bad('state must be "open" or "acknowledged"');
    return {
      ...(text('severity') && { severity: text('severity') }),
      ...(text('rule') && { rule: text('rule') }),
      ...(text('agent') && { agent: text('agent') }),
      ...(state && { state }),
    };
  };

  /** The rules view's figures over a period: hits per rule with marks, and alerts over time. */
  const ruleFigures = async (period: string) => {
    const now = clock();
    const since = now - parseDuration(period);
    return {
      hits: await data.ruleHits(since),
      chart: { since, until: now, counts: await data.alertsOverTime(since, now + 1, CHART_BUCKETS) },
    };
  };

  /** A candidate rule set's replay diff (admin; one at a time: each replays up to MAX_SESSIONS sessions). */
  let diffing = false;
  const rulesDiff = async (caller: Caller, b: Record<string, unknown>) => {
    need(caller, 'admin');
    const period = periodOf(b.period);
    const dir = typeof b.dir === 'string' && b.dir.trim() ? b.dir.trim() : undefined;
    const text = typeof b.rules === 'string' && b.rules.trim() ? b.rules : undefined;
    if (diffing) throw bad('a rules diff is already running; try again when it is done');
    diffing = true;
    try {
      return {
        period,
        diff: await data.rulesDiff({
          ...(dir && { dir }),
          ...(text && { text }),
          since: clock() - parseDuration(period),
        }),
      };
    } finally {
      diffing = false;
    }
  };

  const views: Record<string, Handler> = {
    'GET /sessions': async (_q, res, c, _p, u) => {
      const { sessions, next } = await data.sessionsPage({
        before: int(u, 'before'),
        limit: int(u, 'limit'),
      });
      page(res, c, 'Sessions', '/sessions', pages.sessionsView(c.login!, sessions, next));
    },
    'GET /sessions/:id': async (_q, res, c, [id]) => {
      const t = await data.timeline(id!);
      if (!t) throw new IntentGuardError('ERR_NOT_FOUND', `no session ${id}`);
      page(
        res,
        c,
        `Session ${id}`,
        '/sessions',
        pages.timelineView(c.login!, t.session, t.entries, t.truncated, await data.noteOf('mark', id!)),
      );
    },
    'POST /sessions/:id/mark': async (_q, res, c, [id], _u, body) => {
      await mark(c, id!, (await body()).mark);
      redirect(res, href(`/sessions/${seg(id!)}`));
    },
    'POST /sessions/:id/revoke': async (_q, res, c, [id], _u, body) => {
      await body();
      await revokeSession(c, id!);
      redirect(res, '/sessions');
    },
    'GET /approvals': async (_q, res, c) =>
      page(
        res,
        c,
        'Pending approvals',
        '/approvals',
        pages.approvalsView(c.login!, await data.pendingApprovals(clock()), clock()),
      ),
    'GET /approvals/:id': async (_q, res, c, [id]) => {
      const a = await data.approvalDetail(id!);
      if (!a) throw new IntentGuardError('ERR_APPROVAL_NOT_FOUND', `no approval ${id}`);
      page(res, c, `Approval ${id}`, '/approvals', pages.approvalView(c.login!, a, clock()));
    },
    'POST /approvals/:id': async (_q, res, c, [id], _u, body) => {
      const b = await body();
      const [decision, scope] = String(b.decision ?? '').split('-');
      await decideApproval(c, id!, decision, scope);
      // Back where the decision was made: the list, or the approval's own page.
      redirect(res, b.back === 'detail' ? href(`/approvals/${seg(id!)}`) : '/approvals');
    },
    'GET /grants': (_q, res, c) =>
      page(res, c, 'Grant requests', '/grants', pages.grantsView(c.login!, grants?.list() ?? [])),
    'GET /grants/:id': (_q, res, c, [id]) => {
      const r = grants?.get(id!);
      if (!r) throw new IntentGuardError('ERR_APPROVAL_NOT_FOUND', `no grant request ${id}`);
      page(res, c, `Grant request ${id}`, '/grants', pages.grantsView(c.login!, [r], true));
    },
    'POST /grants/:id': async (_q, res, c, [id], _u, body) => {
      const { decision } = await body();
      need(c, 'approver');
      if (!grants) throw bad('grant requests are not configured (--grant-key)');
      if (decision !== 'approve' && decision !== 'deny') throw bad('decision must be "approve" or "deny"');
      await grants.decide(id!, decision === 'approve', c.principal);
      hub.bump();
      redirect(res, (await body()).back === 'detail' ? href(`/grants/${seg(id!)}`) : '/grants');
    },
    'GET /alerts': async (_q, res, c, _p, u) => {
      const f = alertFilter((k) => u.searchParams.get(k));
      const { alerts, next } = await data.alertsPage({ ...f, before: int(u, 'before') });
      page(res, c, 'Alerts', '/alerts', pages.alertsView(c.login!, alerts, next, f));
    },
    'POST /alerts/:id/ack': async (_q, res, c, [id], _u, body) => {
      const b = await body();
      await acknowledge(c, id!);
      // Back to the feed as it was filtered (rebuilt from the filter fields: only console paths).
      redirect(res, href('/alerts', { ...alertFilter((k) => b[k]) }));
    },
    'GET /rules': async (_q, res, c, _p, u) => {
      const period = periodOf(str(u, 'period'));
      page(res, c, 'Rules', '/rules', pages.rulesView(c.login!, await ruleFigures(period), period));
    },
    'POST /rules/diff': async (_q, res, c, _p, _u, body) => {
      const b = await body();
      const { period, diff } = await rulesDiff(c, b);
      // A result, not a live view: the page is not refreshed under the reader.
      page(
        res,
        c,
        'Rules',
        '/rules',
        pages.rulesView(c.login!, await ruleFigures(period), period, {
          diff,
          dir: typeof b.dir === 'string' ? b.dir : '',
          rules: typeof b.rules === 'string' ? b.rules : '',
        }),
        false,
      );
    },
    'POST /api/rules/diff': async (_q, res, c, _p, _u, body) =>
      sendJson(res, 200, (await rulesDiff(c, await body())).diff),
    'GET /audit': async (_q, res, c) =>
      // Verifying reads the whole record: done when the page is opened, not again at every live change.
      page(
        res,
        c,
        'Audit',
        '/audit',
        pages.auditView(
          c.login!,
          await data.verifyAudit(),
          await data.verifyNotes(),
          await data.auditAnchors(),
          clock(),
        ),
        false,
      ),
    'GET /audit/export': async (_q, res, c, _p, u) => {
      need(c, 'admin');
      const session = str(u, 'session');
      const lines = await data.exportLines(session);
      send(res, 200, 'application/x-ndjson', lines.join('\n') + (lines.length ? '\n' : ''), {
        'content-disposition': 'attachment; filename="intentguard-sessions.jsonl"',
      });
    },
    'GET /api/sessions': async (_q, res, _c, _p, u) =>
      sendJson(res, 200, await data.sessionsPage({ before: int(u, 'before'), limit: int(u, 'limit') })),
    'GET /api/sessions/:id': async (_q, res, _c, [id]) => {
      const t = await data.timeline(id!);
      if (!t) throw new IntentGuardError('ERR_NOT_FOUND', `no session ${id}`);
      sendJson(res, 200, t);
    },
    'POST /api/sessions/:id/revoke': async (_q, res, c, [id], _u, body) => {
      await body();
      sendJson(res, 200, await revokeSession(c, id!));
    },
    'POST /api/sessions/:id/mark': async (_q, res, c, [id], _u, body) =>
      sendJson(res, 200, await mark(c, id!, (await body()).mark)),
    'POST /api/alerts/:id/ack': async (_q, res, c, [id], _u, body) => {
      await body();
      sendJson(res, 200, await acknowledge(c, id!));
    },
    'GET /api/approvals': async (_q, res, _c, _p, u) => {
      const state = str(u, 'state') ?? 'pending';
      if (state !== 'pending')
        throw bad('?state takes "pending" (decided approvals are in each session and in audit)');
      sendJson(res, 200, { approvals: await data.pendingApprovals(clock(), int(u, 'limit')) });
    },
    'GET /api/approvals/:id': async (_q, res, _c, [id]) => {
      const a = await data.approvalDetail(id!);
      if (!a) throw new IntentGuardError('ERR_APPROVAL_NOT_FOUND', `no approval ${id}`);
      sendJson(res, 200, a);
    },
    'POST /api/approvals/:id': async (_q, res, c, [id], _u, body) => {
      const b = await body();
      sendJson(res, 200, await decideApproval(c, id!, b.decision, b.scope));
    },
    'GET /api/alerts': async (_q, res, _c, _p, u) =>
      sendJson(
        res,
        200,
        await data.alertsPage({
          ...alertFilter((k) => u.searchParams.get(k)),
          before: int(u, 'before'),
          limit: int(u, 'limit'),
        }),
      ),
    'GET /api/grants': (_q, res) =>
      sendJson(res, 200, { requests: (grants?.list() ?? []).map(({ token: _t, ...r }) => r) }),
    'GET /api/events': (_q, res) => {
      if (!hub.attach(res)) throw bad('too many live pages open');
    },
    'GET /static/console.js': (_q, res) => send(res, 200, 'text/javascript; charset=utf-8', CONSOLE_JS),
    'GET /static/console.css': (_q, res) => send(res, 200, 'text/css; charset=utf-8', CONSOLE_CSS),
    'GET /': (_q, res) => redirect(res, '/sessions'),
  };
  const routes = Object.entries(views).map(([key, handler]) => {
    const [method, path] = key.split(' ') as [string, string];
    const parts = path.split('/');
    return { method, parts, handler };
  });
  const match = (method: string, path: string) => {
    const segs = path.split('/');
    for (const r of routes) {
      if (r.method !== method || r.parts.length !== segs.length) continue;
      const params: string[] = [];
      if (
        r.parts.every((p, i) =>
          p.startsWith(':') ? (params.push(decodeSegment(segs[i]!)), segs[i] !== '') : p === segs[i],
        )
      )
        return { handler: r.handler, params };
    }
    return undefined;
  };

  let self = '';
  const hostAllowed = (h: string | undefined) => {
    if (!h) return false;
    const port = self.slice(self.lastIndexOf(':') + 1);
    const local = host === '127.0.0.1' || host === 'localhost' || host === '::1';
    return (
      `http://${h}` === self ||
      (local && (h === `localhost:${port}` || h === `127.0.0.1:${port}` || h === `[::1]:${port}`)) ||
      (o.allowedHosts ?? []).some((a) => a === h || a === h.replace(/:\d+$/, ''))
    );
  };
  /** A page's state change must come from a console page: same origin, and the login's CSRF token. */
  const checkCsrf = async (
    req: IncomingMessage,
    login: Login,
    body: () => Promise<Record<string, unknown>>,
  ) => {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (
      origin !== undefined
        ? origin !== `http://${req.headers.host}`
        : site !== undefined && site !== 'same-origin' && site !== 'none'
    )
      throw new IntentGuardError(
        'ERR_CONSOLE_CSRF',
        `a state change from another origin (${origin ?? site}) is refused`,
      );
    const presented = req.headers['x-csrf-token'] ?? (await body()).csrf;
    if (!csrfMatches(login, presented))
      throw new IntentGuardError(
        'ERR_CONSOLE_CSRF',
        'the CSRF token is missing or does not match this login',
      );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const api = url.pathname.startsWith('/api/') || url.pathname === '/token';
    try {
      if (!hostAllowed(req.headers.host))
        throw new IntentGuardError(
          'ERR_HOST',
          `Host ${req.headers.host ?? '(none)'} is not this console's address`,
        );
      if (url.pathname === '/login') return await loginRoute(req, res, method);
      if (url.pathname === '/token' && method === 'POST') return await tokenRoute(req, res);
      // Who is asking: a bearer credential, else the login cookie. Nothing else is answered without one.
      const presented = bearer(req);
      let caller: Caller;
      if (presented !== undefined) caller = { principal: await auth.verify(presented) };
      else {
        const login = auth.session(cookie(req, COOKIE));
        if (!login)
          throw new IntentGuardError(
            'ERR_CONSOLE_AUTH',
            'log in first (POST /login), or send Authorization: Bearer',
          );
        caller = { principal: login.principal, login };
      }
      if (method === 'POST' && url.pathname === '/logout') {
        if (caller.login) {
          await checkCsrf(req, caller.login, () => readBody(req));
          auth.logout(caller.login.id);
        }
        return redirect(res, '/login', {
          'set-cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`,
        });
      }
      const m = match(method, url.pathname);
      if (!m) throw new IntentGuardError('ERR_NOT_FOUND', `no console route ${method} ${url.pathname}`);
      // The body is read once: the CSRF check and the handler share it.
      let parsed: Promise<Record<string, unknown>> | undefined;
      const body = () => (parsed ??= readBody(req));
      if (method !== 'GET' && caller.login) await checkCsrf(req, caller.login, body);
      await m.handler(req, res, caller, m.params, url, body);
    } catch (e) {
      const status = statusOf(e);
      const code = (e as { code?: string }).code ?? 'ERR_CONSOLE_REQUEST';
      const message = status === 500 ? `internal error: ${(e as Error).message}` : (e as Error).message;
      if (res.headersSent) return void res.end();
      if (api) return sendJson(res, status, { error: { code, message } });
      const login = auth.session(cookie(req, COOKIE));
      if (status === 401 || !login) return sendHtml(res, status, pages.loginPage(`${code}: ${message}`));
      sendHtml(res, status, pages.layout('Error', login, '', pages.errorBody(code, message), hub.version));
    }
  };

  const loginRoute = async (req: IncomingMessage, res: ServerResponse, method: string) => {
    if (method === 'GET') return sendHtml(res, 200, pages.loginPage());
    if (method !== 'POST') throw new IntentGuardError('ERR_NOT_FOUND', 'GET or POST /login');
    // Login CSRF: a login form posted from another site is refused.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`)
      throw new IntentGuardError('ERR_CONSOLE_CSRF', `a login from another origin (${origin}) is refused`);
    const body = await readBody(req);
    let principal: Principal;
    try {
      principal = await auth.verify(String(body.token ?? ''));
    } catch (e) {
      return sendHtml(res, 401, pages.loginPage(`${(e as IntentGuardError).code}: ${(e as Error).message}`));
    }
    const login = auth.login(principal);
    redirect(res, '/sessions', {
      'set-cookie': `${COOKIE}=${login.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor((login.expiresAt - clock()) / 1000)}`,
    });
  };

  /** RFC 8693 token exchange: the caller's identity JWT for a grant bound to it and the intent it asks for. */
  const tokenRoute = async (req: IncomingMessage, res: ServerResponse) => {
    const oauth = (status: number, error: string, description: string, extra: Record<string, unknown> = {}) =>
      sendJson(res, status, { error, error_description: description, ...extra });
    if (!grants)
      return oauth(
        400,
        'unsupported_grant_type',
        'grant requests are not configured on this console (--grant-key)',
      );
    const body = await readBody(req);
    if (body.grant_type !== TOKEN_EXCHANGE)
      return oauth(400, 'unsupported_grant_type', `grant_type must be ${TOKEN_EXCHANGE}`);
    if (typeof body.subject_token !== 'string' || !body.subject_token)
      return oauth(400, 'invalid_request', 'subject_token (the caller’s identity JWT) is required');
    if (
      body.subject_token_type !== undefined &&
      body.subject_token_type !== JWT_TOKEN_TYPE &&
      body.subject_token_type !== 'urn:ietf:params:oauth:token-type:id_token'
    )
      return oauth(400, 'invalid_request', `subject_token_type must be ${JWT_TOKEN_TYPE}`);
    let who: Principal;
    try {
      who = await auth.verify(body.subject_token);
      if (who.via !== 'jwt') throw new Error('the subject token must be an identity JWT');
    } catch (e) {
      return oauth(400, 'invalid_grant', (e as Error).message);
    }
    // RFC 8693 delegation: the platform running the agent may present its own token as the actor; the
    // grant then names it (`act`), and neither the agent nor its platform can review the request.
    let act: string | undefined;
    if (body.actor_token !== undefined) {
      if (typeof body.actor_token !== 'string' || !body.actor_token)
        return oauth(400, 'invalid_request', 'actor_token must be an identity JWT');
      if (body.actor_token_type !== undefined && body.actor_token_type !== JWT_TOKEN_TYPE)
        return oauth(400, 'invalid_request', `actor_token_type must be ${JWT_TOKEN_TYPE}`);
      try {
        const actor = await auth.verify(body.actor_token);
        if (actor.via !== 'jwt') throw new Error('the actor token must be an identity JWT');
        act = actor.sub;
      } catch (e) {
        return oauth(400, 'invalid_grant', `actor_token: ${(e as Error).message}`);
      }
    }
    if (typeof body.request_id === 'string') {
      const r = grants.get(body.request_id);
      if (!r || r.sub !== who.sub || r.act !== act)
        return oauth(400, 'invalid_request', `no grant request ${body.request_id} for ${who.sub}`);
      return await answer(r);
    }
    let intent: unknown = body.intent;
    if (typeof intent === 'string') {
      try {
        intent = JSON.parse(intent);
      } catch {
        return oauth(400, 'invalid_request', 'intent must be a JSON intent object');
      }
    }
    if (!intent || typeof intent !== 'object')
      return oauth(400, 'invalid_request', 'intent (the declared intent, JSON) is required');
    try {
      const r = await grants.request(who.sub, intent, act);
      hub.bump();
      return await answer(r);
    } catch (e) {
      return oauth(400, 'invalid_request', (e as Error).message);
    }
    async function answer(r: ReturnType<GrantIssuer['list']>[number]) {
      if (r.status === 'granted')
        return sendJson(res, 200, {
          access_token: await grants!.token(r),
          issued_token_type: JWT_TOKEN_TYPE,
          token_type: 'Bearer',
          expires_in: parseDuration(o.grants?.ttl ?? '10m') / 1000,
          request_id: r.id,
        });
      if (r.status === 'pending')
        return oauth(400, 'authorization_pending', `waiting for a reviewer: ${r.why}`, {
          request_id: r.id,
          interval: 1,
        });
      return oauth(
        400,
        r.status === 'expired' ? 'expired_token' : 'access_denied',
        `grant request ${r.status}${r.decidedBy ? ` by ${r.decidedBy}` : ''}`,
        { request_id: r.id },
      );
    }
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  await listen(server, host, o.port);
  const port = (server.address() as AddressInfo).port;
  self = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: self,
    port,
    ...(grants && { grants }),
    async close() {
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
