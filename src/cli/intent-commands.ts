import { IntentGuardError } from '../errors.js';
import { renderSuggestion } from '../learn/render.js';
import { suggestIntent } from '../learn/suggest.js';
import { openStore } from '../store/db.js';
import { recordedSessions } from '../store/queries.js';
import { parseSince } from './store-commands.js';

type Out = { write(s: string): unknown };

/**
 * `intentguard intent suggest`: an intent YAML learned from recorded sessions (all, one agent's, or
 * one), printed for review. No matching session is `ERR_SUGGEST_NO_SESSIONS`.
 */
export function intentSuggestCommand(
  opts: { db: string; sub?: string; session?: string; since?: string },
  stdout: Out = process.stdout,
): number {
  const since = parseSince(opts.since);
  const store = openStore(opts.db, { readonly: true, mustExist: true });
  try {
    const sessions = [
      ...recordedSessions(store, { ...(opts.session !== undefined && { session: opts.session }), since }),
    ].filter((s) => opts.sub === undefined || s.identity?.sub === opts.sub);
    if (sessions.length === 0) {
      const which = [
        opts.session && `session ${opts.session}`,
        opts.sub && `agent ${opts.sub}`,
        opts.since && `since ${opts.since}`,
      ]
        .filter(Boolean)
        .join(', ');
      throw new IntentGuardError(
        'ERR_SUGGEST_NO_SESSIONS',
        `no recorded session in ${opts.db}${which ? ` matches ${which}` : ''}: nothing to learn from`,
      );
    }
    stdout.write(renderSuggestion(suggestIntent(sessions)));
    return 0;
  } finally {
    store.close();
  }
}
