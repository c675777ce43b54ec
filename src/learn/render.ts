import type { Suggestion } from './suggest.js';

const q = (s: string) => JSON.stringify(s);
/** A comment on one line: newlines in recorded values cannot end the comment and start YAML. */
const note = (s: string) => `  # ${s.replace(/[\r\n\u2028\u2029]+/g, ' ')}`;

/**
 * The suggestion as intent YAML: every line explained by a comment, the calls left out listed at the
 * end. Scalars are JSON strings (valid YAML), so recorded values cannot change the document's shape.
 * @example renderSuggestion(suggestIntent(sessions))
 */
export function renderSuggestion(s: Suggestion): string {
  const { intent, why } = s;
  const list = (key: string, values: readonly string[], indent = '') =>
    values.length === 0
      ? [`${indent}${key}: []`]
      : [
          `${indent}${key}:`,
          ...values.map(
            (v) =>
              `${indent}  - ${q(v)}${note(why.get(`${key === 'paths' || key === 'hosts' ? `resources.${key}` : key}.${v}`) ?? '')}`,
          ),
        ];
  const lines = [
    `# Suggested by intentguard intent suggest from ${s.sessions} session${s.sessions === 1 ? '' : 's'} (${s.calls} tool call${s.calls === 1 ? '' : 's'}).`,
    '# Review every line: it approves what the recorded agents did, no more.',
    `purpose: ${q(intent.purpose)}`,
    ...list('tools', intent.tools),
    ...list('zones', intent.zones),
    ...list('recipients', intent.recipients),
    `sensitivity: ${intent.sensitivity}${note(why.get('sensitivity') ?? '')}`,
    'budget:',
    `  calls: ${intent.budget.calls}${note(why.get('budget.calls') ?? '')}`,
    `  duration: ${intent.budget.duration}${note(why.get('budget.duration') ?? '')}`,
  ];
  if (intent.resources) {
    lines.push('resources:');
    if (intent.resources.paths) lines.push(...list('paths', intent.resources.paths, '  '));
    if (intent.resources.hosts) lines.push(...list('hosts', intent.resources.hosts, '  '));
  }
  if (s.leftOut.length > 0) {
    lines.push(
      `# Left out: ${s.leftOut.length} call${s.leftOut.length === 1 ? '' : 's'} a rule flagged (or that failed); approve them by hand only after review:`,
    );
    for (const l of s.leftOut) lines.push(`#   ${l.replace(/[\r\n\u2028\u2029]+/g, ' ')}`);
  }
  return `${lines.join('\n')}\n`;
}
