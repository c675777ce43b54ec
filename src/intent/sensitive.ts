import type { SensitiveCategory } from '../model/intent.js';

const KEY_FILES = new Set([
  'id_rsa',
  'id_dsa',
  'id_ecdsa',
  'id_ed25519',
  'id_ecdsa_sk',
  'id_ed25519_sk',
  'identity',
]);
const KEY_EXTENSIONS = new Set(['pem', 'key', 'p12', 'pfx', 'jks', 'keystore', 'ppk', 'p8', 'der', 'kdb']);
const KEY_DIRS = new Set(['.ssh', '.gnupg']);
const CREDENTIAL_FILES = new Set([
  '.netrc',
  '_netrc',
  '.npmrc',
  '.pypirc',
  '.pgpass',
  '.git-credentials',
  '.htpasswd',
  '.boto',
  '.s3cfg',
  '.my.cnf',
  '.dockercfg',
  'shadow',
  'gshadow',
  'master.passwd',
  'kubeconfig',
  'auth.json',
  'token',
  'tokens',
  '.vault-token',
]);
const CREDENTIAL_DIRS = new Set([
  '.aws',
  '.azure',
  '.gcloud',
  '.kube',
  '.docker',
  '.password-store',
  'keychains',
]);
const SECRET_EXTENSIONS = new Set(['kdbx', 'kdb', 'keychain', 'gpg', 'age', 'sops']);

/**
 * The sensitive category a path names, if any: environment files (`.env`, `*.env`, `/proc/…/environ`),
 * private keys (`id_rsa`, `*.pem`, `*.key`, `.ssh/`, `.gnupg/`), credentials (`.netrc`, `.aws/`,
 * `credentials*`, `/etc/shadow`) and secrets (`secret*`, password vaults). Segment by segment, case-insensitive.
 * @example sensitivePathCategory('/home/a/private/secret.env') // 'environment'
 */
export function sensitivePathCategory(path: string): SensitiveCategory | undefined {
  const segments = path
    .replaceAll('\\', '/')
    .toLowerCase()
    .split('/')
    .filter((s) => s !== '');
  const base = segments[segments.length - 1];
  if (!base) return undefined;
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1) : '';
  const stem = dot > 0 ? base.slice(0, dot) : base;
  if (
    base === '.env' ||
    base.startsWith('.env.') ||
    ext === 'env' ||
    (stem === 'env' && ext !== '' && ext !== 'md' && ext !== 'txt')
  )
    return 'environment';
  if (base === 'environ' && segments[0] === 'proc') return 'environment';
  if (ext === 'pub') return undefined;
  if (KEY_FILES.has(stem) && (ext === '' || KEY_EXTENSIONS.has(ext))) return 'private-keys';
  if (KEY_EXTENSIONS.has(ext) && ext !== 'der') return 'private-keys';
  for (const s of segments.slice(0, -1)) if (KEY_DIRS.has(s)) return 'private-keys';
  if (CREDENTIAL_FILES.has(base) || stem.startsWith('credential') || base.startsWith('.credential'))
    return 'credentials';
  for (const s of segments.slice(0, -1)) if (CREDENTIAL_DIRS.has(s)) return 'credentials';
  if (
    stem.startsWith('secret') ||
    stem.startsWith('.secret') ||
    SECRET_EXTENSIONS.has(ext) ||
    stem.endsWith('secrets') ||
    stem.endsWith('_secret')
  )
    return 'secrets';
  for (const s of segments.slice(0, -1)) if (s === 'secrets' || s === '.secrets') return 'secrets';
  return undefined;
}

/** Phrases in a tool's description that say what it returns is a sensitive category (word sequences). */
const TOOL_PHRASES: readonly (readonly [SensitiveCategory, readonly string[]])[] = [
  ['environment', ['environment', 'variables']],
  ['environment', ['environment', 'variable']],
  ['environment', ['env', 'vars']],
  ['environment', ['env', 'var']],
  ['environment', ['env', 'variables']],
  ['private-keys', ['private', 'key']],
  ['private-keys', ['private', 'keys']],
  ['private-keys', ['ssh', 'key']],
  ['private-keys', ['ssh', 'keys']],
  ['credentials', ['credentials']],
  ['credentials', ['credential']],
  ['credentials', ['password']],
  ['credentials', ['passwords']],
  ['credentials', ['api', 'key']],
  ['credentials', ['api', 'keys']],
  ['credentials', ['access', 'token']],
  ['credentials', ['access', 'tokens']],
  ['secrets', ['secret']],
  ['secrets', ['secrets']],
];

/** Lower-case words of a text, in order (hand scanner, bounded to its first 4 KiB). */
export function wordList(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  const n = Math.min(text.length, 4096);
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text[i]!.toLowerCase() : ' ';
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) cur += c;
    else if (cur) {
      out.push(cur);
      cur = '';
    }
  }
  return out;
}

/**
 * The sensitive category a tool's own description says it deals in ("Returns all environment
 * variables", "Fetch the stored passwords"), if any. Tool names are not used.
 * @example sensitiveToolCategory('Returns all environment variables') // 'environment'
 */
export function sensitiveToolCategory(description: string): SensitiveCategory | undefined {
  const w = wordList(description);
  for (let i = 0; i < w.length; i++) {
    for (const [cat, phrase] of TOOL_PHRASES) {
      let ok = true;
      for (let j = 0; j < phrase.length && ok; j++) ok = w[i + j] === phrase[j];
      if (ok) return cat;
    }
  }
  return undefined;
}
