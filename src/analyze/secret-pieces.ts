/**
 * Pieces of known secrets: the secret and credential values earlier results carried, indexed by every
 * run of {@link PIECE} characters, so that a call sending any such run — the first piece of a key split
 * across calls, before the whole has left — is seen as sending that secret. Bounded per session.
 */
import { secretValues } from './labels.js';

/** Shortest piece that counts: shorter runs of a random key occur in ordinary text by chance. */
const PIECE = 8;
const LIMITS = { runs: 16_384, valueLength: 512 } as const;

export class SecretPieces {
  private readonly runs = new Set<string>();

  get size(): number {
    return this.runs.size;
  }

  /** Remember the secrets of a result's text. */
  add(text: string): void {
    for (const value of secretValues(text)) {
      const v = value.slice(0, LIMITS.valueLength);
      for (let i = 0; i + PIECE <= v.length && this.runs.size < LIMITS.runs; i++)
        this.runs.add(v.slice(i, i + PIECE));
    }
  }

  /** Does one of these texts carry a run of a known secret? */
  carried(texts: readonly string[]): boolean {
    if (this.runs.size === 0) return false;
    for (const t of texts)
      for (let i = 0; i + PIECE <= t.length; i++) if (this.runs.has(t.slice(i, i + PIECE))) return true;
    return false;
  }
}
