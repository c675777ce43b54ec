import { IntentGuardError } from '../errors.js';
import { renderSuggestion } from '../learn/render.js';
import { suggestIntent } from '../learn/suggest.js';
import { openBackend } from '../store/backend.js';
import { recordedSessions } from '../store/queries.js';
import { parseSince } from './store-commands.js';

type Out = { write(s: string): unknown };

/**
 * `intentguard intent suggest`: an intent YAML learned from recorded sessions (all, one agent's, or
 * one), printed for review. No matching session is `ERR_SUGGEST_NO_SESSIONS`.
 */
export async function intentSuggestCommand(
  opts: { db: string; sub?: string; session?: string; since?: string },
  stdout: Out = process.stdout,
): Promise<number> {
  const since = parseSince(opts.since);
  // Either backend: a PostgreSQL store is read through a local copy of the sessions asked for.
  const backend = await openBackend(opts.db, { readonly: true });
  try {
    const view = await backend.read({
      ...(opts.session !== undefined && { session: opts.session }),
      since,
    });
    try {
      const sessions = [
        ...recordedSessions(view.store, {
          ...(opts.session !== undefined && { session: opts.session }),
          since,
        }),
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
          `no recorded session in ${backend.location}${which ? ` matches ${which}` : ''}: nothing to learn from`,
        );
      }
      stdout.write(renderSuggestion(suggestIntent(sessions)));
      return 0;
    } finally {
      view.close();
    }
  } finally {
    await backend.close();
  }
}
