// C0 and C1 controls (ESC among them), line and paragraph separators, and the bidirectional overrides
// that make text display differently from what it is.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from a session (tool names, methods, reasons quoting arguments, purposes) made safe to print
 * on one terminal line: control characters are shown escaped (`\u001b`), never executed by the
 * terminal, and no value can start a line of its own that looks like intentguard's.
 */
export function printable(text: unknown): string {
  return String(text ?? '').replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
