/**
 * The messages the pathological-shape benchmark feeds the pack (bench/rules.ts, bench/profile-shape.ts):
 * `text` as the answer to a read, or as the body of a send after a small read. The last message is the
 * one measured.
 */
export function shapeMessages(text: string, where: 'result' | 'argument'): unknown[] {
  const read = (path: string) => ({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'read_notes', arguments: { path } },
  });
  if (where === 'result')
    return [read('big.md'), { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text }] } }];
  return [
    read('notes.md'),
    {
      jsonrpc: '2.0',
      id: 1,
      result: {
        content: [{ type: 'text', text: 'Notes: shipped the beta on Friday; contact ops@corp.example.com.' }],
      },
    },
    {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'send_email', arguments: { to: 'team@corp.example.com', body: text } },
    },
  ];
}
