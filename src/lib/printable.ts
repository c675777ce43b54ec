// C0 and C1 controls (ESC among them), line and paragraph separators, and the bidirectional overrides
// that make text display differently from what it is.
const unprintable = (c: number): boolean =>
  c <= 0x1f ||
  (c >= 0x7f && c <= 0x9f) ||
  c === 0x2028 ||
  c === 0x2029 ||
  (c >= 0x202a && c <= 0x202e) ||
  (c >= 0x2066 && c <= 0x2069);

/**
 * Text from a session (tool names, methods, reasons quoting arguments, purposes) made safe to print
 * on one terminal line: control characters are shown escaped (`\u001b`), never executed by the
 * terminal, and no value can start a line of its own that looks like intentguard's.
 */
export function printable(text: unknown): string {
  const s = String(text ?? '');
  const parts: string[] = [];
  let from = 0;
  // A hand scan (no regex on session text); pieces joined once.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!unprintable(c)) continue;
    parts.push(s.slice(from, i), `\\u${c.toString(16).padStart(4, '0')}`);
    from = i + 1;
  }
  if (parts.length === 0) return s;
  parts.push(s.slice(from));
  return parts.join('');
}
