import { labelText } from '../analyze/labels.js';
import { collapseSpaces } from '../analyze/scan.js';

const REDACTED = '[REDACTED]';

/** Read a dotted path (`call.args.to`) from a context object. */
function readPath(ctx: Record<string, unknown>, path: string): unknown {
  let cur: unknown = ctx;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Is `path` covered by a redaction pattern (`call.args.password`, `call.args.*`, `result.text`)? */
function isRedacted(path: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    if (p === path || path.startsWith(`${p}.`)) return true;
    const pp = p.split('.'), xp = path.split('.');
    if (xp.length < pp.length) return false;
    return pp.every((seg, i) => seg === '*' || seg === xp[i]);
  });
}

const looksSecret = (s: string): boolean => {
  const l = labelText(s);
  return l.labels.includes('secret') || l.labels.includes('credential');
};

/** Deep-copy a value, replacing redacted paths and anything that looks like a secret. */
export function redactValue(value: unknown, path: string, patterns: readonly string[], depth = 0): unknown {
  if (isRedacted(path, patterns)) return REDACTED;
  if (typeof value === 'string') {
    const v = value.length > 300 ? `${value.slice(0, 297)}...` : value;
    return looksSecret(value) ? REDACTED : v;
  }
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 20).map((v, i) => redactValue(v, `${path}.${i}`, patterns, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, 50)) out[k] = redactValue(v, `${path}.${k}`, patterns, depth + 1);
  return out;
}

/**
 * Render `{{field.path}}` placeholders (field references only, no expressions). Values under a
 * redaction path, and values that look like secrets, become `[REDACTED]`.
 * @example renderMessage('{{tool.name}} to {{net.hosts}}', ctx, ['call.args.*'])
 */
export function renderMessage(template: string, ctx: Record<string, unknown>, redact: readonly string[]): string {
  // The template is the rule author's; the values are message content: spaces collapsed by a hand scan.
  return collapseSpaces(template.replace(/\{\{\s*([a-zA-Z_][\w.]*)\s*\}\}/g, (_m, path: string) => {
    if (isRedacted(path, redact)) return REDACTED;
    const v = readPath(ctx, path);
    if (v === undefined) return '';
    const text = typeof v === 'string' ? v : JSON.stringify(redactValue(v, path, redact)) ?? '';
    if (looksSecret(text)) return REDACTED;
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  })).trim();
}
