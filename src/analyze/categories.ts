/**
 * What a tool does, inferred from MCP annotations where present and from the words of its name
 * (and, more weakly, its description) where not. Annotations are hints from the server; where they
 * and the name disagree, the more dangerous reading wins.
 */
export const TOOL_CATEGORIES = [
  'read', 'write', 'egress', 'destructive', 'code-execution', 'credential', 'privilege', 'sensitive-read', 'network', 'financial',
] as const;
export type ToolCategory = (typeof TOOL_CATEGORIES)[number];

export interface ToolProfile {
  readonly categories: readonly ToolCategory[];
  /** True when the tool changes something or sends something out (anything but a pure read). */
  readonly sideEffecting: boolean;
  readonly readOnly: boolean;
}

const WORDS: Record<Exclude<ToolCategory, 'read' | 'sensitive-read'>, readonly string[]> = {
  write: ['create', 'update', 'set', 'write', 'edit', 'modify', 'change', 'add', 'insert', 'put', 'append', 'rename', 'move', 'copy', 'schedule', 'save',
    'patch', 'merge', 'commit', 'book', 'reserve', 'register', 'upsert', 'store', 'replace', 'assign', 'mark', 'apply', 'configure', 'enable', 'disable', 'install', 'invite'],
  egress: ['send', 'post', 'publish', 'share', 'email', 'mail', 'message', 'forward', 'upload', 'notify', 'tweet', 'reply', 'comment', 'transfer',
    'pay', 'wire', 'submit', 'export', 'push', 'sms', 'text', 'broadcast', 'webhook', 'dm', 'chat', 'invite'],
  destructive: ['delete', 'remove', 'drop', 'destroy', 'purge', 'erase', 'wipe', 'truncate', 'kill', 'revoke', 'cancel', 'reset', 'uninstall',
    'terminate', 'ban', 'kick', 'unlink', 'rm', 'overwrite', 'clear', 'shutdown', 'format'],
  'code-execution': ['exec', 'execute', 'run', 'eval', 'shell', 'command', 'cmd', 'script', 'spawn', 'bash', 'sh', 'python', 'terminal', 'sql', 'evaluate', 'process'],
  credential: ['password', 'passwd', 'credential', 'credentials', 'secret', 'secrets', 'token', 'tokens', 'apikey', 'key', 'keys', 'auth', 'login', 'mfa', '2fa', 'otp', 'ssh', 'certificate', 'cert'],
  privilege: ['grant', 'invite', 'permission', 'permissions', 'role', 'roles', 'admin', 'member', 'members', 'collaborator', 'access', 'acl', 'policy',
    'owner', 'promote', 'elevate', 'sudo', 'privilege', 'share'],
  network: ['webpage', 'web', 'url', 'http', 'https', 'fetch', 'browse', 'download', 'crawl', 'scrape', 'request', 'curl', 'visit', 'website', 'page'],
  financial: ['money', 'payment', 'payments', 'transaction', 'transactions', 'transfer', 'pay', 'invoice', 'balance', 'iban', 'bank', 'wire', 'refund', 'charge', 'card'],
};
const READ_VERBS = new Set(['get', 'list', 'read', 'search', 'find', 'fetch', 'query', 'view', 'show', 'describe', 'lookup', 'look', 'browse', 'check',
  'count', 'retrieve', 'inspect', 'stat', 'head', 'tail', 'cat', 'ls', 'print', 'download', 'open', 'load', 'summarize', 'explain', 'inspect', 'visit', 'peek', 'watch', 'echo', 'ping', 'validate', 'verify', 'compute', 'calculate']);
const SENSITIVE_NOUNS = new Set(['password', 'passwords', 'secret', 'secrets', 'credential', 'credentials', 'token', 'tokens', 'key', 'keys', 'user', 'userinfo',
  'profile', 'contact', 'contacts', 'address', 'phone', 'ssn', 'iban', 'balance', 'transaction', 'transactions', 'inbox', 'messages', 'message', 'email',
  'emails', 'mail', 'history', 'file', 'files', 'document', 'documents', 'account', 'accounts', 'payroll', 'salary', 'medical', 'health', 'customer', 'customers',
  'env', 'config', 'database', 'db', 'records', 'calendar', 'notes', 'drive']);

const LOOKUP = (() => {
  const m = new Map<string, ToolCategory[]>();
  for (const [cat, words] of Object.entries(WORDS) as [ToolCategory, readonly string[]][]) {
    for (const w of words) m.set(w, [...(m.get(w) ?? []), cat]);
  }
  return m;
})();

/** Split `sendEmail`, `send_email`, `send-email`, `files.delete` into lower-case words. */
export function nameWords(name: string): string[] {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

/**
 * Profile a tool from its name, description and MCP annotations.
 * @example profileTool('delete_file').categories // ['write', 'destructive', 'sensitive-read'?...]
 */
export function profileTool(name: string, annotations?: Readonly<Record<string, unknown>>): ToolProfile {
  const words = nameWords(name);
  const cats = new Set<ToolCategory>();
  for (const w of words) for (const c of LOOKUP.get(w) ?? []) cats.add(c);
  const verb = words[0] ?? '';
  const readVerb = READ_VERBS.has(verb);
  // A read verb first ("get_user_permissions") makes privilege/credential words describe what is read.
  if (readVerb) {
    for (const c of ['write', 'egress', 'destructive', 'privilege'] as const) {
      if (!WORDS[c].includes(verb)) cats.delete(c);
    }
    if (words.some((w) => SENSITIVE_NOUNS.has(w)) || cats.has('credential')) cats.add('sensitive-read');
    cats.delete('credential');
    cats.add('read');
  }
  // 'user', 'share' and 'access' alone are privilege only next to a write verb.
  if (cats.has('privilege') && !cats.has('write') && !cats.has('egress') && !cats.has('destructive') && !words.some((w) => ['grant', 'invite', 'promote', 'elevate', 'sudo'].includes(w))) {
    cats.delete('privilege');
  }
  // Adding or inviting a user is an access change.
  if (['add', 'invite', 'grant', 'assign'].includes(verb) && words.some((w) => w === 'user' || w === 'users')) cats.add('privilege');
  if (annotations?.destructiveHint === true) cats.add('destructive');
  if (annotations?.openWorldHint === true && !readVerb) cats.add('egress');
  const annotatedReadOnly = annotations?.readOnlyHint === true;
  const writes = cats.has('write') || cats.has('egress') || cats.has('destructive') || cats.has('code-execution') || (cats.has('credential') && !readVerb);
  // Unknown verbs with no read signal are treated as side-effecting: fail closed.
  const sideEffecting = writes || (!readVerb && !annotatedReadOnly);
  if (!sideEffecting) cats.add('read');
  return { categories: [...cats].sort(), sideEffecting, readOnly: !sideEffecting };
}
