/** Build recorded-session bundles in the corpus format for tests. */
export function callEvents(
  calls: { tool: string; args?: Record<string, unknown>; result?: string }[],
  tools: string[] = [],
) {
  const events: { dir: 'c2s' | 's2c'; msg: unknown; t?: number }[] = [
    {
      dir: 'c2s',
      msg: {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      },
    },
    {
      dir: 's2c',
      msg: {
        jsonrpc: '2.0',
        id: 0,
        result: {
          protocolVersion: '2025-06-18',
          capabilities: { tools: {} },
          serverInfo: { name: 's', version: '1' },
        },
      },
    },
    { dir: 'c2s', msg: { jsonrpc: '2.0', method: 'notifications/initialized' } },
    { dir: 'c2s', msg: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} } },
    {
      dir: 's2c',
      msg: {
        jsonrpc: '2.0',
        id: 1,
        result: {
          tools: tools.map((name) => ({ name, description: name, inputSchema: { type: 'object' } })),
        },
      },
    },
  ];
  calls.forEach((c, i) => {
    events.push({
      dir: 'c2s',
      msg: {
        jsonrpc: '2.0',
        id: i + 2,
        method: 'tools/call',
        params: { name: c.tool, arguments: c.args ?? {} },
      },
    });
    events.push({
      dir: 's2c',
      msg: { jsonrpc: '2.0', id: i + 2, result: { content: [{ type: 'text', text: c.result ?? 'ok' }] } },
    });
  });
  return events;
}
