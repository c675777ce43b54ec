import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Hash of nothing: the first link of the sessions chain. */
export const GENESIS = '0'.repeat(64);

/**
 * The audit key: HMAC-SHA256 makes the chain tamper-evident against someone who can edit the database
 * but not read the key file (`<db>.key`, mode 0600, created on first use). An in-memory database gets a
 * random key that lives as long as the process.
 */
export function loadAuditKey(dbPath: string, create = true): Buffer {
  if (dbPath === ':memory:') return randomBytes(32);
  const path = `${dbPath}.key`;
  if (existsSync(path)) return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  if (!create) throw new Error(`audit key ${path} not found`);
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}

/**
 * One link: HMAC-SHA256(key, prev ‖ fields), fields joined by NUL (which JSON text never contains
 * unescaped) with SOH standing for null. One update call: cheaper than one per field.
 */
export function link(key: Buffer, prev: string, fields: readonly unknown[], from = 0, to = fields.length): string {
  let text = prev;
  for (let i = from; i < to; i++) {
    const f = fields[i];
    text += f === null || f === undefined ? '\u0000\u0001' : `\u0000${String(f)}`;
  }
  return createHmac('sha256', key).update(text).digest('hex');
}

/** The fields of each table that its hash covers, in order. */
export const HASHED = {
  sessions: ['id', 'key', 'sub', 'iss', 'act', 'jti', 'intent_json', 'intent_version', 'transport', 'transport_session_id', 'started_at'],
  sessionEnd: ['ended_at', 'outcome', 'calls', 'drift', 'status', 'events', 'last_event_hash', 'last_decision_hash'],
  events: ['session_id', 'seq', 'time', 'dir', 'kind', 'method', 'tool', 'call', 'msg_id', 'bytes', 'synthetic', 'raw'],
  decisions: ['id', 'session_id', 'seq', 'time', 'action', 'enforced', 'call', 'tool', 'sub', 'intent_version', 'findings_json', 'approver'],
  anchors: ['kind', 'at', 'detail', 'session_prev_hash'],
} as const;

export const fieldsOf = (row: Record<string, unknown>, names: readonly string[]) => names.map((n) => row[n]);
