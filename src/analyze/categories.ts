/**
 * What a tool does, inferred from every verb of its name, the lead verbs of its description and its
 * MCP annotations. The most dangerous reading wins: `read_and_delete` deletes, a `readOnlyHint` does not
 * make `send_email` a read. A description that says the tool changes nothing counts as a read signal
 * when nothing else says otherwise; a tool nothing says anything about stays side-effecting (cautious).
 */
type ToolCategory =
  | 'read'
  | 'write'
  | 'egress'
  | 'destructive'
  | 'code-execution'
  | 'credential'
  | 'privilege'
  | 'sensitive-read'
  | 'network'
  | 'financial';

export interface ToolProfile {
  readonly categories: readonly ToolCategory[];
  /** True when the tool changes something or sends something out (anything but a pure read). */
  readonly sideEffecting: boolean;
  readonly readOnly: boolean;
}

type Action =
  | 'write'
  | 'egress'
  | 'destructive'
  | 'code-execution'
  | 'network'
  | 'financial'
  | 'privilege'
  | 'credential';

// Verbs: a word that names what the tool does. Read verbs change nothing.
const READ_VERBS = [
  'get',
  'list',
  'read',
  'search',
  'find',
  'fetch',
  'query',
  'view',
  'show',
  'describe',
  'lookup',
  'look',
  'browse',
  'check',
  'count',
  'retrieve',
  'inspect',
  'stat',
  'tail',
  'cat',
  'ls',
  'print',
  'download',
  'open',
  'load',
  'summarize',
  'summarise',
  'explain',
  'peek',
  'watch',
  'echo',
  'ping',
  'validate',
  'verify',
  'compute',
  'calculate',
  'return',
  'estimate',
  'analyze',
  'analyse',
  'preview',
  'locate',
  'display',
  'detect',
  'identify',
  'translate',
  'compare',
  'recommend',
  'suggest',
  'predict',
  'forecast',
  'measure',
  'select',
  'scan',
  'monitor',
  'obtain',
  'see',
  'ask',
  'think',
  'access',
  'discover',
  'examine',
  'review',
  'poll',
  'resolve',
  'render',
  'convert',
  'format',
  'parse',
  'extract',
  'filter',
  'sort',
  'diff',
  'grep',
  'glob',
  'tree',
  'test',
  'lint',
  'audit',
  'report',
  'visit',
  'crawl',
  'scrape',
] as const;
const ACTION_VERBS: Record<Action, readonly string[]> = {
  write: [
    'create',
    'update',
    'set',
    'write',
    'edit',
    'modify',
    'change',
    'add',
    'insert',
    'put',
    'append',
    'rename',
    'move',
    'copy',
    'schedule',
    'save',
    'patch',
    'merge',
    'commit',
    'book',
    'reserve',
    'register',
    'upsert',
    'store',
    'replace',
    'assign',
    'mark',
    'apply',
    'configure',
    'enable',
    'disable',
    'install',
    'invite',
    'lock',
    'unlock',
    'control',
    'manage',
    'handle',
    'place',
    'make',
    'generate',
    'organize',
    'organise',
    'archive',
    'restore',
    'join',
    'leave',
    'follow',
    'unfollow',
    'like',
    'unlike',
    'star',
    'subscribe',
    'unsubscribe',
    'draft',
    'consult',
    'redirect',
    'dispatch',
    'request',
    'play',
    'pause',
    'stop',
    'start',
    'toggle',
    'turn',
    'deploy',
    'trigger',
    'sync',
    'import',
    'upload',
    'accept',
    'approve',
    'reject',
    'decline',
    'record',
    'log',
    'tag',
    'label',
    'pin',
    'unpin',
    'block',
    'unblock',
    'mute',
    'flag',
    'confirm',
    'exchange',
    'resume',
    'launch',
    'build',
    'compile',
    'provision',
    'scale',
    'restart',
    'reboot',
    'close',
    'fill',
    'sign',
    'navigate',
    'click',
    'type',
    'press',
    'go',
  ],
  egress: [
    'send',
    'post',
    'publish',
    'share',
    'email',
    'mail',
    'message',
    'forward',
    'upload',
    'notify',
    'tweet',
    'retweet',
    'reply',
    'comment',
    'transfer',
    'pay',
    'wire',
    'submit',
    'export',
    'push',
    'sms',
    'text',
    'broadcast',
    'webhook',
    'dm',
    'chat',
    'invite',
    'call',
    'dial',
    'contact',
    'announce',
    'tell',
    'request',
    'withdraw',
    'deposit',
    'leave',
  ],
  destructive: [
    'delete',
    'remove',
    'drop',
    'destroy',
    'purge',
    'erase',
    'wipe',
    'truncate',
    'kill',
    'revoke',
    'cancel',
    'reset',
    'uninstall',
    'terminate',
    'ban',
    'kick',
    'unlink',
    'rm',
    'overwrite',
    'clear',
    'shutdown',
    'deactivate',
    'unregister',
    'empty',
  ],
  'code-execution': [
    'exec',
    'execute',
    'run',
    'eval',
    'shell',
    'command',
    'cmd',
    'script',
    'spawn',
    'bash',
    'sh',
    'python',
    'terminal',
    'sql',
    'evaluate',
    'process',
  ],
  network: [
    'fetch',
    'browse',
    'download',
    'crawl',
    'scrape',
    'curl',
    'visit',
    'http',
    'https',
    'webpage',
    'web',
    'url',
    'website',
    'page',
    'request',
  ],
  financial: [
    'pay',
    'wire',
    'refund',
    'charge',
    'withdraw',
    'deposit',
    'trade',
    'buy',
    'sell',
    'purchase',
    'invest',
    'order',
  ],
  privilege: ['grant', 'promote', 'elevate', 'sudo'],
  credential: ['login', 'authenticate', 'authorize'],
};
// Words that are verbs at the head of a name and nouns after a verb ("post_tweet" vs "get_post").
// Also nouns that name a record of the action (`EstimateDispatchTime`, `GetUpdateStatus`, `ListChangeLog`).
const AMBIGUOUS = new Set([
  'dispatch',
  'update',
  'change',
  'copy',
  'edit',
  'move',
  'install',
  'post',
  'message',
  'email',
  'mail',
  'text',
  'chat',
  'comment',
  'reply',
  'share',
  'transfer',
  'book',
  'schedule',
  'record',
  'request',
  'lock',
  'place',
  'order',
  'tweet',
  'like',
  'control',
  'call',
  'contact',
  'log',
  'tag',
  'label',
  'pin',
  'block',
  'star',
  'flag',
  'sms',
  'dm',
  'process',
  'command',
  'script',
  'shell',
  'terminal',
  'sql',
  'page',
  'web',
  'url',
  'http',
  'https',
  'webpage',
  'website',
  'type',
  'play',
  'stop',
  'start',
  'turn',
  'go',
  'draft',
  'store',
  'set',
  'wire',
  'charge',
  'deposit',
  'trade',
  'exchange',
  'sign',
  'empty',
  'clear',
  'export',
  'import',
  'upload',
  'build',
  'merge',
  'commit',
  'patch',
  'push',
  'mark',
  'run',
  'leave',
  'fill',
  'key',
  'bash',
  'python',
  'sh',
  'cmd',
  'review',
  'report',
  'access',
  'test',
  'audit',
  'format',
  'diff',
  'filter',
  'sort',
  'select',
  'display',
  'show',
  'view',
  'tree',
  'scan',
  'monitor',
  'watch',
  'stat',
  'tail',
  'ls',
  'cat',
]);
// Joining words: each part of `read_and_delete` is a clause with its own verb.
const CONJUNCTIONS = new Set(['and', 'then', 'or', 'plus', 'also', 'after', 'before', 'with', 'n']);
// Nouns that give a name's action a category of its own.
const NOUNS: Partial<Record<Action | 'sensitive', readonly string[]>> = {
  credential: [
    'password',
    'passwd',
    'credential',
    'credentials',
    'secret',
    'secrets',
    'token',
    'tokens',
    'apikey',
    'key',
    'keys',
    'auth',
    'mfa',
    '2fa',
    'otp',
    'ssh',
    'certificate',
    'cert',
    'passcode',
    'pin',
  ],
  privilege: [
    'permission',
    'permissions',
    'role',
    'roles',
    'admin',
    'admins',
    'member',
    'members',
    'membership',
    'collaborator',
    'collaborators',
    'access',
    'acl',
    'acls',
    'policy',
    'owner',
    'owners',
    'privilege',
    'privileges',
    'guest',
    'guests',
    'sharing',
  ],
  financial: [
    'money',
    'payment',
    'payments',
    'transaction',
    'transactions',
    'invoice',
    'balance',
    'iban',
    'bank',
    'refund',
    'card',
    'funds',
    'fund',
    'payee',
    'bill',
    'stock',
    'stocks',
    'crypto',
    'order',
    'orders',
    'trade',
    'wallet',
    'loan',
    'salary',
    'payroll',
    'deposit',
    'withdrawal',
    'investment',
    'holdings',
  ],
  // Writing to these publishes: others read them.
  egress: [
    'issue',
    'issues',
    'gist',
    'gists',
    'wiki',
    'page',
    'pages',
    'webpage',
    'website',
    'site',
    'post',
    'posts',
    'comment',
    'comments',
    'review',
    'reviews',
    'tweet',
    'tweets',
    'blog',
    'forum',
    'discussion',
    'story',
    'release',
    'pr',
    'paste',
    'snippet',
    'message',
    'messages',
    'thread',
    'announcement',
    'invitation',
    'invitations',
    'reply',
    'public',
    'feed',
    'gallery',
    'listing',
  ],
  network: ['webpage', 'web', 'url', 'http', 'https', 'website', 'page', 'internet', 'online'],
  sensitive: [
    'password',
    'passwords',
    'secret',
    'secrets',
    'credential',
    'credentials',
    'token',
    'tokens',
    'key',
    'keys',
    'user',
    'userinfo',
    'profile',
    'contact',
    'contacts',
    'address',
    'phone',
    'ssn',
    'iban',
    'balance',
    'transaction',
    'transactions',
    'inbox',
    'messages',
    'message',
    'email',
    'emails',
    'mail',
    'history',
    'file',
    'files',
    'document',
    'documents',
    'account',
    'accounts',
    'payroll',
    'salary',
    'medical',
    'health',
    'customer',
    'customers',
    'env',
    'environment',
    'config',
    'database',
    'db',
    'records',
    'calendar',
    'notes',
    'drive',
    'genetic',
    'patient',
    'patients',
    'prescription',
    'prescriptions',
  ],
};
// A hand-off to a person (the safest exit an agent has) is not a side effect: `transfer_to_human_agents`.
const HANDOFF_VERBS = new Set(['transfer', 'escalate', 'handoff', 'route', 'connect']);
const HANDOFF_PEOPLE = new Set([
  'human',
  'humans',
  'person',
  'agent',
  'agents',
  'representative',
  'representatives',
  'operator',
  'operators',
  'staff',
  'supervisor',
  'support',
  'live',
]);

const READ = new Set<string>(READ_VERBS);
const VERB_ACTIONS = new Map<string, Action[]>();
for (const [cat, words] of Object.entries(ACTION_VERBS) as [Action, readonly string[]][]) {
  for (const w of words)
    if (!VERB_ACTIONS.get(w)?.includes(cat)) VERB_ACTIONS.set(w, [...(VERB_ACTIONS.get(w) ?? []), cat]);
}
const NOUN_CATS = new Map<string, (Action | 'sensitive')[]>();
for (const [cat, words] of Object.entries(NOUNS) as [Action | 'sensitive', readonly string[]][])
  for (const w of words) NOUN_CATS.set(w, [...(NOUN_CATS.get(w) ?? []), cat]);

/** Split `sendEmail`, `send_email`, `send-email`, `files.delete`, `EpicFHIRSearch` into lower-case words. */
export function nameWords(name: string): string[] {
  // One pass (the two regexes this replaces, `([a-z0-9])([A-Z])` and `([A-Z]+)([A-Z][a-z])`, backtrack
  // quadratically on a long run of capitals): a word starts at a capital after a lower-case letter or
  // digit, or at the last capital of a run when a lower-case letter follows it (`FHIRSearch`).
  let spaced = '';
  let from = 0;
  for (let i = 1; i < name.length; i++) {
    if (!isUpper(name.charCodeAt(i))) continue;
    const prev = name.charCodeAt(i - 1);
    if (isLowerOrDigit(prev) || (isUpper(prev) && isLower(name.charCodeAt(i + 1)))) {
      spaced += name.slice(from, i) + ' ';
      from = i;
    }
  }
  spaced += name.slice(from);
  return spaced
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

const isUpper = (c: number) => c >= 65 && c <= 90;
const isLower = (c: number) => c >= 97 && c <= 122;
const isLowerOrDigit = (c: number) => isLower(c) || (c >= 48 && c <= 57);

const isVerb = (w: string) => READ.has(w) || VERB_ACTIONS.has(w);

/** What one word means as a verb: read, or the actions it performs. */
function verbMeaning(w: string): { read: boolean; actions: readonly Action[] } {
  const actions = VERB_ACTIONS.get(w) ?? [];
  // Fetching is a read that reaches the network; any other action makes the word act.
  return { read: READ.has(w) && actions.every((a) => a === 'network'), actions };
}

interface Reading {
  verbs: number;
  read: boolean;
  actions: Set<Action>;
}

/**
 * Read the verbs of a word list, clause by clause (clauses split at and/then/or): in each clause the
 * first unambiguous verb is the action and ambiguous words after a verb are its objects; with no
 * unambiguous verb the first ambiguous one acts (`post_tweet`). Words before the verb are a namespace.
 */
function readWords(words: readonly string[], r: Reading): void {
  let clause: string[] = [];
  const flush = () => {
    if (clause.length === 0) return;
    let head = clause.findIndex((w) => isVerb(w) && !AMBIGUOUS.has(w));
    if (head < 0) head = clause.findIndex((w) => isVerb(w));
    clause.forEach((w, i) => {
      if (i === head || (i > head && head >= 0 && isVerb(w) && !AMBIGUOUS.has(w))) {
        const m = verbMeaning(w);
        r.verbs++;
        if (m.read) r.read = true;
        for (const a of m.actions) r.actions.add(a);
      }
    });
    clause = [];
  };
  for (const w of words) {
    if (CONJUNCTIONS.has(w)) flush();
    else clause.push(w);
  }
  flush();
}

/** Verb candidates for an inflected description word: `creates` → create, `copies` → copy, `searching` → search. */
function stems(w: string): string[] {
  const out = [w];
  if (w.endsWith('ies')) out.push(`${w.slice(0, -3)}y`);
  if (/(?:ch|sh|ss|x|z)es$/.test(w)) out.push(w.slice(0, -2));
  if (w.endsWith('s') && !w.endsWith('ss')) out.push(w.slice(0, -1));
  if (w.endsWith('ing')) out.push(w.slice(0, -3), `${w.slice(0, -3)}e`);
  if (w.endsWith('ed')) out.push(w.slice(0, -2), w.slice(0, -1));
  return out;
}
const DESCRIPTION_FILLER = new Set([
  'use',
  'uses',
  'this',
  'the',
  'a',
  'an',
  'tool',
  'function',
  'method',
  'endpoint',
  'api',
  'to',
  'it',
  'will',
  'can',
  'you',
  'lets',
  'allows',
  'helps',
  'please',
  'simply',
  'just',
  'that',
  'which',
  'for',
  'in',
  'order',
  'used',
  'is',
  'of',
  'also',
]);

/** How a verb is inflected: `searches` s, `searching` ing, `searched` ed, `search` bare. */
function verbForm(word: string, verb: string): 'bare' | 's' | 'ing' | 'ed' {
  if (word === verb) return 'bare';
  return word.endsWith('ing') ? 'ing' : word.endsWith('ed') ? 'ed' : 's';
}

/**
 * The lead verbs of a description's first sentence (lower case): `Reads the file and deletes it` → read,
 * delete. A verb coordinated with the first (after and/or/then) shares its form; a word that is also a
 * noun in another form is part of the object (`Searches saved addresses and contact numbers`: no contact).
 */
function descriptionVerbs(first: string): string[] {
  const words = first
    .split(/[^a-z0-9-]+/)
    .filter(Boolean)
    .slice(0, 40);
  const out: string[] = [];
  let expectVerb = true;
  let leadForm: ReturnType<typeof verbForm> | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (expectVerb && DESCRIPTION_FILLER.has(w)) continue;
    if (expectVerb) {
      const v = stems(w).find(isVerb);
      const form = v ? verbForm(w, v) : undefined;
      // A noun-verb word that ends the clause has no object: a noun ("by harbour and type").
      const last = i + 1 >= words.length;
      const agrees =
        leadForm === undefined || (v !== undefined && !AMBIGUOUS.has(v)) || (form === leadForm && !last);
      // "changes nothing", "sends no data": a claim, not an action.
      if (v && agrees && !['nothing', 'no', 'none'].includes(words[i + 1] ?? '')) {
        out.push(v);
        leadForm ??= form;
      }
      expectVerb = false;
    } else if (w === 'and' || w === 'or' || w === 'then') expectVerb = true;
  }
  return out;
}

const NEGATIONS = new Set([
  'not',
  'never',
  'no',
  'nothing',
  'without',
  "doesn't",
  "don't",
  "won't",
  'cannot',
  "can't",
  'none',
]);
const CHANGE_STEMS = [
  'chang',
  'modif',
  'alter',
  'writ',
  'updat',
  'affect',
  'mutat',
  'delet',
  'side',
  'persist',
  'sav',
  'stor',
  'send',
  'effect',
];
/** The description says the tool changes nothing ("does not modify", "read-only", "no side effects", "a no-op"). */
function claimsNoChange(description: string): boolean {
  const text = description.toLowerCase();
  if (/\bread[- ]only\b|\bno[- ]op\b|\bnoop\b/.test(text)) return true;
  for (const sentence of text.split(/[.!?\n;]/)) {
    const words = sentence.split(/[^a-z0-9']+/).filter(Boolean);
    for (let i = 0; i < words.length; i++) {
      if (!NEGATIONS.has(words[i]!) && !words[i]!.endsWith("n't")) continue;
      for (let j = i + 1; j < Math.min(words.length, i + 7); j++)
        if (CHANGE_STEMS.some((s) => words[j]!.startsWith(s))) return true;
    }
    // "changes nothing", "modifies nothing"
    for (let i = 0; i + 1 < words.length; i++)
      if (CHANGE_STEMS.some((s) => words[i]!.startsWith(s)) && words[i + 1] === 'nothing') return true;
  }
  return false;
}

const MONEY = /\b(?:money|funds?|payments?|amount|iban|bank|currency|crypto|invoice|refund)\b/;

/** A hand-off to a person: a hand-off verb, then (within a few words) a person, and no money. */
function isHandoff(words: readonly string[]): boolean {
  for (let i = 0; i < words.length; i++) {
    if (!HANDOFF_VERBS.has(words[i]!)) continue;
    const rest = words.slice(i + 1, i + 8);
    if (rest.some((w) => HANDOFF_PEOPLE.has(w)) && !rest.some((w) => NOUN_CATS.get(w)?.includes('financial')))
      return true;
  }
  return false;
}

const ARTICLES = new Set(['a', 'an', 'the', 'new', 'one', 'some', 'any', 'all', 'your', 'their', 'its']);

/**
 * The object of the description's lead verb ("Buy investment options" → `investment`): with the verb it
 * says what the tool acts on, as the words after the verb of its name do (`send_email`).
 */
function leadObject(first: string): string | undefined {
  const words = first
    .split(/[^a-z0-9-]+/)
    .filter(Boolean)
    .slice(0, 40);
  let i = 0;
  while (i < words.length && DESCRIPTION_FILLER.has(words[i]!)) i++;
  if (i >= words.length || !stems(words[i]!).some(isVerb)) return undefined;
  i++;
  while (i < words.length && ARTICLES.has(words[i]!)) i++;
  return words[i];
}

/**
 * The words that say what a tool does: its name from the verb on (a namespace before the verb left out;
 * the whole name when it has no verb), the lead verbs of its description and the first one's object.
 * @example actionWords('AcmeTextSendSms', 'Sends a text.') // ['send', 'sms', 'send', 'text']
 */
export function actionWords(name: string, description = ''): string[] {
  const words = nameWords(name);
  let head = words.findIndex((w) => isVerb(w) && !AMBIGUOUS.has(w));
  if (head < 0) head = words.findIndex(isVerb);
  const lead = description ? (description.toLowerCase().split(/[.!?\n]/, 1)[0] ?? '') : '';
  const object = leadObject(lead);
  return [...words.slice(Math.max(head, 0)), ...descriptionVerbs(lead), ...(object ? [object] : [])];
}

/**
 * Profile a tool from its name, its description and MCP annotations (all from tools/list).
 * @example profileTool('read_and_delete').sideEffecting // true
 * @example profileTool('TodoistSearchTasks', undefined, 'Searches tasks by keywords.').readOnly // true
 */
export function profileTool(
  name: string,
  annotations?: Readonly<Record<string, unknown>>,
  description = '',
): ToolProfile {
  const r: Reading = { verbs: 0, read: false, actions: new Set() };
  const words = nameWords(name);
  readWords(words, r);
  const lead = description ? (description.toLowerCase().split(/[.!?\n]/, 1)[0] ?? '') : '';
  // Each lead verb of the description is its own clause ("Reads the report and emails it").
  for (const v of descriptionVerbs(lead)) readWords([v], r);
  const nounCats = new Set(words.flatMap((w) => NOUN_CATS.get(w) ?? []));
  const money = nounCats.has('financial') || MONEY.test(lead);
  const handoff = !money && (isHandoff(words) || isHandoff(lead.split(/[^a-z0-9]+/)));
  const cats = new Set<ToolCategory>();
  // A hand-off to a person moves the conversation, not data or money: not a side effect of its own.
  const acting =
    r.actions.size > 0 && !(handoff && [...r.actions].every((a) => a === 'egress' || a === 'write'));
  if (acting) {
    for (const a of r.actions) if (a !== 'network') cats.add(a);
    if (nounCats.has('credential')) cats.add('credential');
    if (money && (r.actions.has('egress') || r.actions.has('write'))) cats.add('financial');
    // A write to a place others read publishes: `create_issue`, `update_wiki_page`, `leave_review`.
    if (r.actions.has('write') && nounCats.has('egress')) cats.add('egress');
    // Access changes: granting, or adding/inviting/assigning a member, a guest, a role or a user.
    if (nounCats.has('privilege') && (r.actions.has('write') || r.actions.has('egress')))
      cats.add('privilege');
    if (
      words.some((w) => w === 'user' || w === 'users') &&
      words.some((w) => ['add', 'invite', 'grant', 'assign'].includes(w))
    )
      cats.add('privilege');
  }
  if (annotations?.destructiveHint === true) cats.add('destructive');
  // The server says explicitly that the tool is not read-only: the more dangerous reading wins.
  if (annotations?.readOnlyHint === false) cats.add('write');
  if (annotations?.openWorldHint === true && cats.size > 0) cats.add('egress');
  if (nounCats.has('network') || r.actions.has('network')) cats.add('network');
  const writes =
    cats.has('write') ||
    cats.has('egress') ||
    cats.has('destructive') ||
    cats.has('code-execution') ||
    cats.has('financial') ||
    cats.has('privilege') ||
    cats.has('credential');
  const readSignal =
    r.read ||
    handoff ||
    annotations?.readOnlyHint === true ||
    (description !== '' && claimsNoChange(description));
  // Nothing says what it does: cautious (side-effecting). A read signal and no action: read-only.
  const sideEffecting = writes || !readSignal;
  if (!sideEffecting) {
    cats.add('read');
    if (nounCats.has('sensitive') || nounCats.has('credential')) cats.add('sensitive-read');
  }
  return { categories: [...cats].sort(), sideEffecting, readOnly: !sideEffecting };
}

// Shell commands that only read and print: listing, reading, searching, counting, describing the
// system. Nothing here writes, deletes, runs another program or prints the environment.
const READ_ONLY_COMMANDS = new Set(
  (
    'ls ll dir cat head tail pwd whoami id date echo find grep egrep fgrep rg wc stat file du df which whereis type ' +
    'uname hostname uptime free ps tree realpath readlink basename dirname cut diff cmp md5sum sha1sum sha256sum lsblk nproc'
  ).split(' '),
);
// `find` options that act: delete, run a command, write a file.
const FIND_ACTIONS = /^-(delete|exec|execdir|ok|okdir|fprint|fprint0|fprintf|fls)$/;

/**
 * Does a shell command line only read? Every command of the line (split at `|`, `&&`, `||`, `;`,
 * newlines) is a read-only one ({@link READ_ONLY_COMMANDS}; `find` without its acting options), with no
 * redirection, substitution, background job or variable expansion of a command (`>`, `<`, `` ` ``,
 * `$(`, `&` alone). A code-execution tool running such a line reads for that call; anything else
 * (an interpreter, `sudo`, `rm`, `bash -c …`) stays code execution. One pass per segment.
 * @example readOnlyCommand('ls -la / && cat notes.txt | grep todo') // true
 * @example readOnlyCommand('cat a > b') // false
 */
export function readOnlyCommand(line: string): boolean {
  if (line.length === 0 || line.length > 1024 || /[<>`]|\$\(|\$\{/.test(line)) return false;
  const segments = line.split(/\|\||&&|[|;\n]/);
  for (const segment of segments) {
    if (segment.includes('&')) return false;
    const words = segment.trim().split(/\s+/);
    const command = words[0] ?? '';
    if (command === '') return false;
    if (!READ_ONLY_COMMANDS.has(command)) return false;
    if (command === 'find' && words.some((w) => FIND_ACTIONS.test(w))) return false;
  }
  return true;
}
