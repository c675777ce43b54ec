/**
 * Newline framing for stdio JSON-RPC with a bound on line length. Unlike the SDK's reader it never
 * drops a line silently: every line (or over-long fragment) is handed on, with its byte size.
 */
export class LineFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string, bytes: number) => void,
    /** A line longer than maxBytes: its first bytes (for an id) and its full size, once it ends. */
    private readonly onOversize: (head: string, bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      // The per-message fast path: a whole line inside one chunk, nothing held from earlier chunks,
      // is decoded straight from the chunk (no slice object, no copy into a buffer of its own); a chunk
      // that ends with it (one message a read, the usual case) is done without searching it again.
      if (nl >= 0 && this.size === 0 && !this.discarding && nl - start <= this.maxBytes) {
        this.line(chunk.toString('utf8', start, nl), nl - start);
        start = nl + 1;
        if (start === chunk.length) return;
        continue;
      }
      // The chunk ended with its last line: nothing of it to hold (no empty slice kept, nor the chunk with it).
      if (nl < 0 && start === chunk.length) return;
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (this.discarding) this.size += piece.length;
      else if (this.size + piece.length > this.maxBytes) {
        this.parts.push(piece.subarray(0, Math.max(0, 256 - this.size)));
        this.size += piece.length;
        this.discarding = true;
      } else {
        this.parts.push(piece);
        this.size += piece.length;
      }
      if (nl < 0) return;
      this.emit();
      start = nl + 1;
    }
  }

  /** Flush a final unterminated line (end of stream). */
  end(): void {
    if (this.size > 0) this.emit();
  }

  private emit(): void {
    const bytes = this.size;
    const parts = this.parts;
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString('utf8');
    const oversize = this.discarding;
    this.parts = [];
    this.size = 0;
    this.discarding = false;
    if (oversize) this.onOversize(dropCr(text).slice(0, 256), bytes);
    else this.line(text, bytes);
  }

  /** A complete line: a trailing CR dropped (CRLF framing), blank lines skipped. */
  private line(raw: string, bytes: number): void {
    const text = dropCr(raw);
    // A JSON-RPC line starts with `{` or `[`: only anything else needs the whitespace check.
    const c = text.charCodeAt(0);
    if (c === 0x7b || c === 0x5b || text.trim() !== '') this.onLine(text, bytes);
  }
}

const dropCr = (text: string): string =>
  text.charCodeAt(text.length - 1) === 0x0d ? text.slice(0, -1) : text;
