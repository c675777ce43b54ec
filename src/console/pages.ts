import type { AuditReport } from '../store/audit.js';
import { atLeast, type Login } from './auth.js';
import { Html, href, html, seg } from './escape.js';
import type {
  AlertFilter,
  ConsoleAlert,
  ConsoleApproval,
  ConsoleNote,
  ConsoleSession,
  RuleHits,
} from './queries.js';
import type { ConsoleEntry } from './timeline.js';
import type { GrantRequest } from './grants.js';
import { MAX_SESSIONS, type RulesDiff } from './rules-diff.js';

// Server-rendered views. Every value from the record goes through `html` (escaped); links are built
// with `href` from the console's own paths; no inline script or style (the CSP forbids both).

const iso = (t: number | null | undefined) =>
  t === null || t === undefined ? '' : new Date(t).toISOString().replace('T', ' ').slice(0, 19);
const json = (v: unknown) => JSON.stringify(v, null, 2) ?? '';

const NAV = [
  ['/sessions', 'Sessions'],
  ['/approvals', 'Approvals'],
  ['/grants', 'Grant requests'],
  ['/alerts', 'Alerts'],
  ['/rules', 'Rules'],
  ['/audit', 'Audit'],
] as const;

/** The page frame: navigation, who is logged in, the live region the script refreshes. */
export function layout(
  title: string,
  login: Login,
  current: string,
  body: Html,
  version: number,
  live = true,
): string {
  const p = login.principal;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>intentguard console — ${title}</title>
        <link rel="stylesheet" href="/static/console.css" />
        <script type="module" src="/static/console.js"></script>
      </head>
      <body data-version="${version}" data-role="${p.role}">
        <header>
          <strong>intentguard</strong>
          <nav>
            ${NAV.map(([path, name]) => html`<a href="${path}" ${current === path ? html` aria-current="page"` : ''}>${name}</a>`)}
          </nav>
          <span class="who">${p.sub} <em>(${p.role})</em></span>
          <form method="post" action="/logout">
            <input type="hidden" name="csrf" value="${login.csrf}" /><button>Log out</button>
          </form>
        </header>
        <main id="live" ${live ? '' : html` data-still`}>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html> `.text;
}

/** The login page: an admin token or an identity JWT. Needs no script. */
export function loginPage(message?: string): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>intentguard console — log in</title>
      </head>
      <body>
        <h1>intentguard console</h1>
        ${message ? html`<p role="alert">${message}</p>` : ''}
        <form method="post" action="/login">
          <label
            >Token or identity JWT <input type="password" name="token" autocomplete="off" required
          /></label>
          <button>Log in</button>
        </form>
      </body>
    </html> `.text;
}

/** An error page for a logged-in user (or a bare one for a refusal before login). */
export function errorBody(code: string, message: string): Html {
  return html`<p class="error" role="alert"><code>${code}</code> ${message}</p>`;
}

/** A table's header row. */
const head = (...columns: string[]) =>
  html`<thead>
    <tr>
      ${columns.map((c) => html`<th>${c}</th>`)}
    </tr>
  </thead>`;

const csrfField = (login: Login) => html`<input type="hidden" name="csrf" value="${login.csrf}" />`;

/** Live sessions: identity, act-for, intent purpose and version, transport, calls vs budget, drift, state. */
export function sessionsView(login: Login, rows: readonly ConsoleSession[], next: number | null): Html {
  const canAct = atLeast(login.principal.role, 'approver');
  return html`<table id="sessions">
      ${head('session', 'identity', 'acts for', 'intent', 'transport', 'calls / budget', 'drift', 'state', 'mark', '')}
      <tbody>
        ${rows.map(
          (s) =>
            html`<tr data-session="${s.id}">
              <td>
                <a href="${href(`/sessions/${seg(s.id)}`)}">${s.id}</a><br /><small
                  >${iso(s.startedAt)}</small
                >
              </td>
              <td class="sub">${s.sub ?? 'unverified'}</td>
              <td>${s.act ?? ''}</td>
              <td class="purpose">${s.purpose} <small>v${s.intentVersion}</small></td>
              <td>${s.transport ?? ''}</td>
              <td>${s.calls}${s.budget !== null ? ` / ${s.budget}` : ''}</td>
              <td>${(s.drift ?? 0).toFixed(2)}</td>
              <td class="state">${stateOf(s)}</td>
              <td class="mark">${s.mark ?? ''}</td>
              <td>
                ${
                  canAct && s.jti && !s.revoked && s.endedAt === null
                    ? html`<form method="post" action="${href(`/sessions/${seg(s.id)}/revoke`)}">
                        ${csrfField(login)}<button class="danger">Halt &amp; revoke grant</button>
                      </form>`
                    : ''
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${next !== null ? html`<p><a rel="next" href="${href('/sessions', { before: next })}">Older sessions →</a></p>` : ''}`;
}

const stateOf = (s: ConsoleSession) =>
  s.revoked && s.endedAt === null
    ? 'revoked'
    : s.endedAt === null
      ? 'live'
      : (s.outcome ?? s.status ?? 'ended');

/** A session's timeline: calls, decisions, rules with reasons, intent version, provenance links. */
export function timelineView(
  login: Login,
  session: Record<string, unknown>,
  entries: readonly ConsoleEntry[],
  truncated: boolean,
  mark: ConsoleNote | undefined,
): Html {
  const id = String(session.id);
  const marked = mark && mark.value !== 'none' ? mark : undefined;
  return html`<div class="analyst">
      <p id="mark">
        ${marked ? html`Marked <strong class="mark">${marked.value}</strong> by ${marked.by} at ${iso(marked.at)}` : 'Not marked.'}
      </p>
      ${
        atLeast(login.principal.role, 'approver')
          ? html`<form method="post" action="${href(`/sessions/${seg(id)}/mark`)}" class="mark">
              ${csrfField(login)}
              <button name="mark" value="benign">Mark benign</button>
              <button name="mark" value="attack" class="danger">Mark attack</button>
              ${marked ? html`<button name="mark" value="none">Clear the mark</button>` : ''}
            </form>`
          : ''
      }
      ${
        atLeast(login.principal.role, 'admin')
          ? html`<p>
              <a href="${href('/audit/export', { session: id })}" download>Export this session (bundle)</a>
            </p>`
          : ''
      }
    </div>
    <dl class="session">
      <dt>identity</dt>
      <dd class="sub">${session.sub ?? 'unverified'}</dd>
      <dt>acts for</dt>
      <dd>${session.act ?? ''}</dd>
      <dt>grant</dt>
      <dd>${session.jti ?? ''}</dd>
      <dt>purpose</dt>
      <dd class="purpose">${session.purpose}</dd>
      <dt>intent</dt>
      <dd>
        v${session.intent_version_now ?? session.intent_version}${
          session.intent_version_now !== session.intent_version
            ? html` (started at v${session.intent_version}; widened since, see the timeline)`
            : ''
        }
        <pre>${json(session.intent)}</pre>
      </dd>
      <dt>started</dt>
      <dd>${iso(session.started_at as number)}</dd>
      <dt>outcome</dt>
      <dd>${session.outcome ?? (session.ended_at ? '' : 'live')}</dd>
    </dl>
    <table id="timeline">
      ${head('#', 'time', 'dir', 'what', 'arguments / result', 'decision', 'intent v')}
      <tbody>
        ${entries.map(
          (e) =>
            html`<tr id="${`ev-${e.seq}`}" class="${`action-${e.action}`}">
              <td>${e.seq}</td>
              <td>${iso(e.time).slice(11)}</td>
              <td>${e.dir}</td>
              <td class="what">
                ${
                  e.control
                    ? html`<span class="control"
                        >intent v${e.control.version} approved by
                        ${e.control.by}${
                          e.control.added.length
                            ? html`: adds <code>${e.control.added.join(', ')}</code>`
                            : ''
                        }</span
                      >`
                    : e.tool !== null
                      ? html`${e.kind === 'request' ? 'call' : e.kind} <code class="tool">${e.tool}</code>`
                      : html`${e.kind} <code>${e.method ?? ''}</code>`
                }
              </td>
              <td>
                ${
                  e.args !== undefined
                    ? argsCell(e)
                    : e.result !== undefined
                      ? html`<details>
                          <summary>result</summary>
                          <pre>${json(e.result)}</pre>
                        </details>`
                      : ''
                }
              </td>
              <td>
                ${e.action}${
                  e.findings.length
                    ? html`<ul class="findings">
                        ${e.findings.map((f) => html`<li><code>${f.rule}</code> (${f.action}): ${f.reason}</li>`)}
                      </ul>`
                    : ''
                }
              </td>
              <td>${e.intentVersion ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${truncated ? html`<p>Only the first entries are shown; export the session for all of them.</p>` : ''}`;
}

function argsCell(e: ConsoleEntry): Html {
  const args = (e.args ?? {}) as Record<string, unknown>;
  return html`<dl class="args">
    ${Object.entries(args).map(([k, v]) => {
      const links = e.provenance.filter((p) => p.arg === k || p.arg.startsWith(`${k}.`));
      const text = typeof v === 'string' ? v : json(v);
      return html`<dt>${k}</dt>
        <dd>
          ${
            links.length
              ? html`<a
                    class="prov"
                    href="${`#ev-${links[0]!.from}`}"
                    title="${`from the result at #${links[0]!.from}`}"
                    >${text}</a
                  >
                  <small>← result #${links[0]!.from}</small>`
              : html`<code>${text}</code>`
          }
        </dd>`;
    })}
  </dl>`;
}

/** Pending approvals: redacted arguments beside what the intent allows, why held, expiry countdown. */
export function approvalsView(login: Login, pending: readonly ConsoleApproval[], now: number): Html {
  if (pending.length === 0) return html`<p id="no-approvals">Nothing is waiting for a decision.</p>`;
  return html`<ul id="approvals" class="cards">
    ${pending.map((p) => approvalCard(login, p, now))}
  </ul>`;
}

/** One approval's own page (what a webhook or a URL-mode elicitation links to), in any state. */
export function approvalView(login: Login, p: ConsoleApproval, now: number): Html {
  return html`<ul id="approvals" class="cards">
      ${approvalCard(login, p, now, true)}
    </ul>
    <p><a href="/approvals">All pending approvals</a></p>`;
}

function approvalCard(login: Login, p: ConsoleApproval, now: number, detail = false): Html {
  const canDecide = atLeast(login.principal.role, 'approver');
  const own = p.sub === login.principal.sub || p.act === login.principal.sub;
  const open = p.status === 'pending' && p.expiresAt > now;
  return html`<li class="approval" data-approval="${p.id}" data-status="${open ? 'pending' : p.status}">
    <h2>
      <a href="${href(`/approvals/${seg(p.id)}`)}"><code class="tool">${p.tool}</code></a> for
      <span class="sub">${p.sub ?? 'unverified'}</span>${p.act ? html` acting for ${p.act}` : ''}
    </h2>
    <p>
      Session <a href="${href(`/sessions/${seg(p.session)}`)}">${p.session}</a>, intent v${p.intentVersion}:
      <span class="purpose">${p.purpose}</span>
    </p>
    <p class="reason">Held because: ${p.reason}</p>
    <div class="side-by-side">
      <div>
        <h3>Arguments (redacted)</h3>
        <pre class="args">${json(p.args)}</pre>
      </div>
      <div>
        <h3>What the intent allows for this tool</h3>
        <pre>${p.allowed === null ? 'not among the approved tools' : json(p.allowed)}</pre>
      </div>
    </div>
    ${
      open
        ? html`<p>
            Expires in
            <span class="countdown" data-expires="${p.expiresAt}"
              >${Math.max(0, Math.round((p.expiresAt - now) / 1000))} s</span
            >
            (${iso(p.expiresAt)})
          </p>`
        : html`<p class="decided">
            <strong class="status">${p.status === 'pending' ? 'expired' : p.status}</strong>${
              p.approver ? html` by <span class="approver">${p.approver}</span>` : ''
            }${p.scope ? html` (scope ${p.scope})` : ''}${p.decidedAt ? html` at ${iso(p.decidedAt)}` : ''}
          </p>`
    }
    ${
      !open
        ? ''
        : !canDecide
          ? html`<p class="note">Your role (${login.principal.role}) cannot decide approvals.</p>`
          : own
            ? html`<p class="note">
                This call was made under your own identity: another approver must decide it.
              </p>`
            : html`<form method="post" action="${href(`/approvals/${seg(p.id)}`)}" class="decide">
                ${csrfField(login)}${detail ? html`<input type="hidden" name="back" value="detail" />` : ''}
                <button name="decision" value="approve-once">Approve once</button>
                <button name="decision" value="approve-session">
                  Approve ${p.tool} for this session (within these folders and hosts)
                </button>
                ${
                  p.allowed === null
                    ? html`<button name="decision" value="approve-intent">
                        Widen the intent: add ${p.tool} (a new intent version)
                      </button>`
                    : ''
                }
                <button name="decision" value="deny" class="danger">Deny</button>
              </form>`
    }
  </li>`;
}

const SEVERITIES = ['', 'informational', 'low', 'medium', 'high', 'critical'];

/** The alerts feed with its filters; approvers acknowledge. */
export function alertsView(
  login: Login,
  alerts: readonly ConsoleAlert[],
  next: number | null,
  f: AlertFilter,
): Html {
  const canAck = atLeast(login.principal.role, 'approver');
  const keep = Object.entries(f).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}" />`);
  return html`<form method="get" action="/alerts" class="filters">
      <label
        >severity
        <select name="severity">
          ${SEVERITIES.map((s) => html`<option value="${s}" ${f.severity === s ? html` selected` : ''}>${s || 'any'}</option>`)}
        </select></label
      >
      <label>rule <input name="rule" value="${f.rule ?? ''}" /></label>
      <label>agent <input name="agent" value="${f.agent ?? ''}" /></label>
      <label
        >state
        <select name="state">
          ${[
            ['', 'any'],
            ['open', 'open'],
            ['acknowledged', 'acknowledged'],
          ].map(
            ([v, name]) =>
              html`<option value="${v}" ${(f.state ?? '') === v ? html` selected` : ''}>${name}</option>`,
          )}
        </select></label
      >
      <button>Filter</button>
    </form>
    <table id="alerts">
      ${head('time', 'severity', 'rule', 'agent', 'action', 'reason', 'session', 'acknowledged')}
      <tbody>
        ${alerts.map(
          (a) =>
            html`<tr class="${`sev-${a.severity}`}" data-alert="${a.id}">
              <td>${iso(a.time)}</td>
              <td>${a.severity}</td>
              <td><code>${a.rule}</code></td>
              <td class="sub">${a.sub ?? ''}</td>
              <td>${a.action} / ${a.outcome}</td>
              <td>${a.reason}</td>
              <td>
                <a
                  class="jump"
                  href="${href(`/sessions/${seg(a.session)}`) + (a.seq !== null ? `#ev-${a.seq}` : '')}"
                  >open${a.seq !== null ? html` at #${a.seq}` : ''}</a
                >
              </td>
              <td class="ack">
                ${
                  a.ack
                    ? html`by <span class="approver">${a.ack.by}</span> <small>${iso(a.ack.at)}</small>`
                    : canAck
                      ? html`<form method="post" action="${href(`/alerts/${seg(a.id)}/ack`)}">
                          ${csrfField(login)}${keep}<button>Acknowledge</button>
                        </form>`
                      : ''
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${next !== null ? html`<p><a rel="next" href="${href('/alerts', { ...f, before: next })}">Older alerts →</a></p>` : ''}`;
}

/** Audit: chain verification status and unsealed sessions, with bundle export for admins. */
export function auditView(
  login: Login,
  r: AuditReport,
  notes: { notes: number; broken: { rowid: number; why: string } | null },
  anchors: readonly { rowid: number; kind: string; at: number; detail: string }[],
  now: number,
): Html {
  const admin = atLeast(login.principal.role, 'admin');
  const c = r.checked;
  return html`<p id="audit-status" class="${r.problems.length ? 'bad' : 'good'}">
      ${
        r.problems.length
          ? `FAILED: ${r.problems.length} table(s) with tampering`
          : 'Every chain, seal and the head anchor verify.'
      }
    </p>
    <p>
      Checked ${c.sessions} sessions, ${c.events} events, ${c.decisions} decisions, ${c.alerts} alerts,
      ${c.approvals} approvals, ${c.revocations} revocations, ${c.anchors} anchors.
    </p>
    ${
      r.problems.length
        ? html`<ul>
            ${r.problems.map((p) => html`<li><code>${p.table}</code> row ${p.rowid}: ${p.kind}: ${p.detail}</li>`)}
          </ul>`
        : ''
    }
    <p id="notes-status" class="${notes.broken ? 'bad' : 'good'}">
      ${
        notes.broken
          ? `Console notes FAILED at note ${notes.broken.rowid}: ${notes.broken.why}`
          : `The console's ${notes.notes} notes (acknowledgements, marks) verify.`
      }
    </p>
    <p>Verified at ${iso(now)} (<a href="/audit">verify again</a>).</p>
    <h2>Anchors (prune points, key hand-overs)</h2>
    ${
      anchors.length
        ? html`<table id="anchors">
            ${head('#', 'kind', 'at', 'detail')}
            <tbody>
              ${anchors.map(
                (a) =>
                  html`<tr>
                    <td>${a.rowid}</td>
                    <td class="kind">${a.kind}</td>
                    <td>${iso(a.at)}</td>
                    <td><code>${a.detail}</code></td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p id="no-anchors">None: nothing was pruned and the audit key was never rotated.</p>`
    }
    <h2>Unsealed sessions</h2>
    ${
      r.unsealed.length
        ? html`<ul>
            ${r.unsealed.map((u) => html`<li>${JSON.stringify(u)}</li>`)}
          </ul>`
        : html`<p>None.</p>`
    }
    ${
      admin
        ? html`<h2>Export</h2>
            <p><a href="/audit/export" download>Every session as a bundle (JSON lines)</a></p>`
        : ''
    }`;
}

/** Rule hit counts over a period, analysts' marks beside them, and (admins) a candidate rule set's replay diff. */
export function rulesView(
  login: Login,
  hits: readonly RuleHits[],
  period: string,
  tried?: { diff: RulesDiff; dir: string; rules: string },
): Html {
  return html`<form method="get" action="/rules" class="filters">
      <label
        >period
        <select name="period">
          ${['1h', '24h', '7d', '30d'].map(
            (p) => html`<option${p === period ? html` selected` : ''}>${p}</option>`,
          )}
        </select></label
      ><button>Show</button>
    </form>
    <table id="rule-hits">
      ${head('rule', 'alerts', 'sessions', 'marked benign', 'marked attack', '')}
      <tbody>
        ${hits.map(
          (h) =>
            html`<tr data-rule="${h.rule}">
              <td><code>${h.rule}</code></td>
              <td class="hits">${h.hits}</td>
              <td>${h.sessions}</td>
              <td class="benign">${h.benign}</td>
              <td class="attack">${h.attack}</td>
              <td><a href="${href('/alerts', { rule: h.rule })}">alerts</a></td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${atLeast(login.principal.role, 'admin') ? candidateForm(login, period, tried) : ''}`;
}

/** Try a candidate rule set against the record: a directory on the console's host, or one pasted rule file. */
function candidateForm(
  login: Login,
  period: string,
  tried?: { diff: RulesDiff; dir: string; rules: string },
): Html {
  const d = tried?.diff;
  return html`<h2>Try candidate rules</h2>
    <form method="post" action="/rules/diff" class="candidate">
      ${csrfField(login)}<input type="hidden" name="period" value="${period}" />
      <p>
        Replays the newest ${MAX_SESSIONS} sessions of the period (${period}) with the shipped pack plus the
        candidate, and lists every recorded decision that would change (as
        <code>intentguard replay --diff</code>).
      </p>
      <label
        >Rules directory on the console's host <input name="dir" size="60" value="${tried?.dir ?? ''}"
      /></label>
      <p>or paste one rule file (YAML):</p>
      <textarea name="rules" rows="10" cols="90">${tried?.rules ?? ''}</textarea>
      <p><button>Show the replay diff</button></p>
    </form>
    ${
      d
        ? html`<p id="diff-summary">
              ${d.sessions} sessions replayed${d.capped ? ' (the newest of the period)' : ''} with
              ${d.candidate}:
              <strong>${d.changed}</strong> decisions would
              change${d.rows.length < d.changed ? html` (the first ${d.rows.length} shown)` : ''}.
            </p>
            <table id="diff">
              ${head('session', 'call', 'tool', 'recorded', 'candidate', 'rules', 'why')}
              <tbody>
                ${d.rows.map(
                  (r) =>
                    html`<tr>
                      <td><a href="${href(`/sessions/${seg(r.session)}`)}">${r.session}</a></td>
                      <td>${r.call ?? ''}</td>
                      <td><code class="tool">${r.tool ?? ''}</code></td>
                      <td class="before">${r.before}</td>
                      <td class="after">${r.after}</td>
                      <td>${r.rules.map((x) => html`<code>${x}</code> `)}</td>
                      <td>${r.reason}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : ''
    }`;
}

/** Grant requests waiting for a reviewer, and recently decided ones. */
export function grantsView(login: Login, requests: readonly GrantRequest[], detail = false): Html {
  const canDecide = atLeast(login.principal.role, 'approver');
  if (requests.length === 0) return html`<p id="no-grants">No grant requests.</p>`;
  return html`<ul id="grants" class="cards">
    ${requests.map((g) => {
      const own = g.sub === login.principal.sub || g.act === login.principal.sub;
      return html`<li class="grant" data-grant="${g.id}">
        <h2>
          <a href="${href(`/grants/${seg(g.id)}`)}"><span class="sub">${g.sub}</span></a
          >${g.act ? html` (through <span class="act">${g.act}</span>)` : ''} asks for a grant:
          <span class="purpose">${g.intent.purpose}</span>
        </h2>
        <p>
          Status: <strong class="status">${g.status}</strong>${g.decidedBy ? html` by ${g.decidedBy}` : ''}.
          ${g.why}
        </p>
        <pre>${json(g.intentDoc)}</pre>
        ${
          g.status !== 'pending'
            ? ''
            : !canDecide
              ? html`<p class="note">Your role (${login.principal.role}) cannot decide grant requests.</p>`
              : own
                ? html`<p class="note">
                    This request is made under your own identity: another approver must decide it.
                  </p>`
                : html`<form method="post" action="${href(`/grants/${seg(g.id)}`)}">
                    ${csrfField(login)}${detail ? html`<input type="hidden" name="back" value="detail" />` : ''}
                    <button name="decision" value="approve">Grant</button>
                    <button name="decision" value="deny" class="danger">Refuse</button>
                  </form>`
        }
      </li>`;
    })}
  </ul>`;
}
