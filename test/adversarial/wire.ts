// Shared by the adversarial wire tests (issue 11, sections 2 and 3): a real `intentguard stdio` process
// in front of a real server, driven line by line, and the files it works on.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectLines, spawnCli } from '../helpers/cli-child.js';
import { waitFor } from '../helpers/wait.js';

export const FILESYSTEM = 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js';
export const EVERYTHING = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
export const AWS_LINE = 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** A project folder with notes and a credentials file, and an intent (sensitivity: internal) over it. */
export function project(): { root: string; creds: string; notes: string; intentFile: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ig-wire-'));
  const root = join(dir, 'project');
  mkdirSync(root);
  const creds = join(root, 'creds.env');
  const notes = join(root, 'notes.md');
  writeFileSync(creds, `AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n${AWS_LINE}\n`);
  writeFileSync(notes, '# Notes\nNothing secret here.\n');
  const intentFile = join(dir, 'intent.yaml');
  writeFileSync(
    intentFile,
    `purpose: summarise the project notes\ntools: [read_text_file, list_directory]\nsensitivity: internal\n`,
  );
  return { root, creds, notes, intentFile, dir };
}

export interface RawPeer {
  readonly lines: string[];
  send(text: string): void;
  /** The parsed lines that answer `id` (a batch answer counts for each of its members). */
  answers(id: unknown): Array<{
    id?: unknown;
    result?: unknown;
    error?: { code: number; message: string; data?: { code?: string } };
  }>;
  waitAnswers(id: unknown, n?: number): Promise<void>;
  close(): Promise<number | null>;
  readonly db: string;
}

/** `intentguard stdio --intent FILE -- <server...>` as a raw child: write lines, read lines. */
export function stdioProxy(intentFile: string, server: string[], extra: string[] = []): RawPeer {
  const db = join(tmpdir(), `ig-wire-${process.pid}-${Math.random().toString(36).slice(2)}.db`);
  const child = spawnCli(['stdio', '--intent', intentFile, '--db', db, ...extra, '--', ...server]);
  const lines = collectLines(child.stdout);
  child.stderr.resume();
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const parsed = () =>
    lines.flatMap((l) => {
      const m = JSON.parse(l) as unknown;
      return Array.isArray(m) ? m : [m];
    });
  const answers = (id: unknown) =>
    parsed().filter((m) => m.id === id && (m.result !== undefined || m.error !== undefined));
  return {
    lines,
    db,
    send: (text) => {
      child.stdin.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    answers,
    waitAnswers: (id, n = 1) =>
      waitFor(() => answers(id).length >= n, `${n} answer(s) to id ${JSON.stringify(id)}`),
    close: async () => {
      child.stdin.end();
      // Cleanup only (no assertion waits on it): a proxy that does not leave is stopped.
      const stop = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await exit;
      } finally {
        clearTimeout(stop);
      }
    },
  };
}

/** The MCP handshake as raw lines (id 0). */
export const INIT = [
  '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}',
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
];

export async function handshake(p: RawPeer): Promise<void> {
  p.send(INIT[0]!);
  await p.waitAnswers(0);
  p.send(INIT[1]!);
}
