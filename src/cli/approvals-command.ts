import { listApprovals, type ApprovalListing } from '../approvals/list.js';
import { openBackend } from '../store/backend.js';
import { printable } from './format.js';

const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());

const line = (a: ApprovalListing, now: number): string => {
  const left =
    a.expiresAt === null ? '' : a.expiresAt > now ? ` (${Math.ceil((a.expiresAt - now) / 1000)} s left)` : '';
  const decided = a.approver ? `  by ${printable(a.approver)}${a.scope ? ` (${a.scope})` : ''}` : '';
  return `${a.id}  ${a.state}${decided}\n  session ${printable(a.session)}  agent ${printable(a.agent)}  tool ${printable(a.tool)}\n  held: ${printable(a.reason)}\n  expires ${iso(a.expiresAt)}${left}`;
};

/**
 * `intentguard approvals [--db PATH] [--state pending|all] [--json]`: the approvals in the record —
 * id, session, agent, tool, why the call was held, expiry — to answer with `intentguard approve|deny ID`.
 */
export async function approvalsCommand(
  opts: { db: string; state: 'pending' | 'all'; json?: boolean },
  out: NodeJS.WritableStream = process.stdout,
  now: number = Date.now(),
): Promise<number> {
  // On a fleet's PostgreSQL: a private copy of the shared tables (no session is copied).
  const backend = await openBackend(opts.db, { readonly: true });
  const view = await backend.read({ limit: 0 });
  const store = view.store;
  opts = { ...opts, db: backend.location };
  try {
    const rows = listApprovals(store, { state: opts.state, now });
    if (opts.json) {
      for (const r of rows) out.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    out.write(
      `${rows.length} ${opts.state === 'pending' ? 'pending approvals' : 'approvals'} in ${opts.db}${rows.length ? '' : opts.state === 'pending' ? ' (--state all lists decided ones too)' : ''}\n`,
    );
    for (const r of rows) out.write(`${line(r, now)}\n`);
    if (opts.state === 'pending' && rows.length)
      out.write(`answer with: intentguard approve ID --store ${opts.db}  (or deny ID)\n`);
    return 0;
  } finally {
    view.close();
    await backend.close();
  }
}
