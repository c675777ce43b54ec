import { createHmac, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Hash of nothing: the first link of the sessions chain. */
export const GENESIS = '0'.repeat(64);

/** The audit keys of a database: the current one and every retired one, by epoch. */
export interface AuditKeys {
  readonly key: Buffer;
  readonly epoch: number;
  readonly keys: ReadonlyMap<number, Buffer>;
}

const parseKeyFile = (text: string): { key: Buffer; epoch: number } => {
  const [hex, epoch] = text.trim().split(/\s+/);
  return { key: Buffer.from(hex ?? '', 'hex'), epoch: epoch === undefined ? 0 : Number(epoch) };
};

/** Write a key file atomically, owner-only. */
export function writeKeyFile(path: string, key: Buffer, epoch: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${key.toString('hex')}${epoch === 0 ? '' : ` ${epoch}`}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Create a key file only if there is none: written aside, then hard-linked into place, which fails
 * when the file exists. Two processes starting on one store at once (two proxies on one SQLite file,
 * two fleet instances sharing a key file) both end up with the key that won, never each with its own.
 */
export function createKeyFile(path: string, key: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${key.toString('hex')}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * The audit key: HMAC-SHA256 makes the chain tamper-evident against someone who can edit the database
 * but not read the key file (`<db>.key`, mode 0600, created on first use). Keys retired by
 * `intentguard audit rotate-key` stay beside it as `<db>.key.<epoch>` so older rows still verify.
 * An in-memory database gets a random key that lives as long as the process.
 */
export function loadAuditKeys(dbPath: string, create = true): AuditKeys {
  if (dbPath === ':memory:') {
    const key = randomBytes(32);
    return { key, epoch: 0, keys: new Map([[0, key]]) };
  }
  const path = `${dbPath}.key`;
  if (!existsSync(path)) {
    if (!create) throw new Error(`audit key ${path} not found`);
    createKeyFile(path, randomBytes(32));
  }
  const current = parseKeyFile(readFileSync(path, 'utf8'));
  const keys = new Map<number, Buffer>([[current.epoch, current.key]]);
  const prefix = `${basename(path)}.`;
  for (const f of readdirSync(dirname(path))) {
    if (!f.startsWith(prefix) || !/^\d+$/.test(f.slice(prefix.length))) continue;
    const retired = parseKeyFile(readFileSync(join(dirname(path), f), 'utf8'));
    keys.set(Number(f.slice(prefix.length)), retired.key);
  }
  return { ...current, keys };
}

/**
 * One link: HMAC-SHA256(key, prev ‖ fields), fields joined by NUL (which JSON text never contains
 * unescaped) with SOH standing for null. One update call: cheaper than one per field.
 */
export function link(
  key: Buffer,
  prev: string,
  fields: readonly unknown[],
  from = 0,
  to = fields.length,
): string {
  let text = prev;
  for (let i = from; i < to; i++) {
    const f = fields[i];
    text += f === null || f === undefined ? '\u0000\u0001' : `\u0000${String(f)}`;
  }
  return createHmac('sha256', key).update(text).digest('hex');
}

/**
 * The fields of each table that its hash covers, in order. `sessions`/`sessionEnd` are the fields of
 * sessions recorded before chain version 2 (`chain_v` NULL); version 2 rows use the `*2` lists, which
 * cover every column an auditor reads.
 */
export const HASHED = {
  sessions: [
    'id',
    'key',
    'sub',
    'iss',
    'act',
    'jti',
    'intent_json',
    'intent_version',
    'transport',
    'transport_session_id',
    'started_at',
  ],
  sessionEnd: [
    'ended_at',
    'outcome',
    'calls',
    'drift',
    'status',
    'events',
    'last_event_hash',
    'last_decision_hash',
  ],
  sessions2: [
    'id',
    'key',
    'sub',
    'iss',
    'act',
    'jti',
    'intent_json',
    'intent_version',
    'purpose',
    'transport',
    'transport_session_id',
    'started_at',
    'chain_v',
  ],
  sessionEnd2: [
    'ended_at',
    'outcome',
    'calls',
    'drift',
    'status',
    'events',
    'last_event_hash',
    'decisions',
    'last_decision_hash',
    'alerts',
    'last_alert_hash',
    'seal_note',
  ],
  events: [
    'session_id',
    'seq',
    'time',
    'dir',
    'kind',
    'method',
    'tool',
    'call',
    'msg_id',
    'bytes',
    'synthetic',
    'raw',
  ],
  decisions: [
    'id',
    'session_id',
    'seq',
    'time',
    'action',
    'enforced',
    'call',
    'tool',
    'sub',
    'intent_version',
    'findings_json',
    'approver',
  ],
  alerts: ['id', 'session_id', 'decision_id', 'time', 'rule', 'severity', 'action', 'outcome', 'json'],
  approvals: [
    'id',
    'session_id',
    'decision_id',
    'sub',
    'tool',
    'args_digest',
    'intent_version',
    'reason',
    'requested_at',
    'expires_at',
  ],
  approvalDecision: ['status', 'approver', 'scope', 'decided_at'],
  revocations: ['jti', 'sub', 'reason', 'revoked_at', 'expires_at'],
  grantRequests: ['id', 'sub', 'act', 'intent_json', 'why', 'requested_at', 'expires_at', 'epoch'],
  anchors: ['kind', 'at', 'detail', 'session_prev_hash'],
} as const;

/** The chain version new sessions are recorded with. */
export const CHAIN_V = 2;

export const fieldsOf = (row: Record<string, unknown>, names: readonly string[]) => names.map((n) => row[n]);

/** A key's public fingerprint (names a key in a hand-over record without revealing it). */
export const fingerprint = (key: Buffer): string =>
  createHmac('sha256', key).update('intentguard audit key fingerprint').digest('hex').slice(0, 32);
