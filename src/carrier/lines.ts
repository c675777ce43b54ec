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
    const text = Buffer.concat(this.parts).toString('utf8').replace(/\r$/, '');
    const oversize = this.discarding;
    this.parts = [];
    this.size = 0;
    this.discarding = false;
    if (oversize) this.onOversize(text.slice(0, 256), bytes);
    else if (text.trim() !== '') this.onLine(text, bytes);
  }
}
