import type { ServerResponse } from 'node:http';
import { relayFrame } from '../../carrier/relay.js';
import { httpStatusOf } from '../../era/refusal.js';
import type { BridgeSession } from './bridge-session.js';

/**
 * `POST` on a bridged session: answers to intentguard's own prompts are taken; every other message is
 * decided in order and what is allowed goes to the server's stdin (while the server is not reading,
 * this session's next messages wait). The POST is answered when its requests are (see `Exchanges`).
 */
export async function postToBridge(
  res: ServerResponse,
  s: BridgeSession,
  body: unknown,
  header?: (name: string) => string | undefined,
): Promise<void> {
  const batch = Array.isArray(body);
  // Answers to intentguard's own prompts stay here.
  const messages = (batch ? (body as unknown[]) : [body]).filter((m) => !s.asker.take(m));
  if (messages.length === 0) {
    res.writeHead(202).end();
    return;
  }
  const x = s.exchanges.open(res, messages, batch);
  let forwarded = 0;
  const invalid: string[] = [];
  await s.c2s.push(async () => {
    for (const m of messages) {
      const text = JSON.stringify(m);
      const r = await relayFrame(
        s.handle,
        'c2s',
        { text, bytes: Buffer.byteLength(text) },
        undefined,
        s.era,
        header,
      );
      for (const a of r.answers) {
        // An answer to a request goes where that request waits; an invalid message's (null id) to this POST.
        if ((a as { id?: unknown }).id === null) invalid.push(JSON.stringify(a));
        else {
          // One request refused as the specification asks (-32020 HeaderMismatch…): HTTP 400.
          if (!batch && httpStatusOf(a) === 400) x.status = 400;
          s.exchanges.deliver(a, JSON.stringify(a));
        }
      }
      for (const f of r.forward) {
        forwarded++;
        await s.toServer(f);
      }
    }
  });
  const settled = s.exchanges.settle(x, invalid, forwarded);
  if (settled === 'refused')
    // Nothing in the body could be accepted: 400, with the JSON-RPC errors (null ids) that say why.
    res
      .writeHead(400, { 'content-type': 'application/json', 'mcp-session-id': s.id })
      .end(batch || invalid.length > 1 ? `[${invalid.join(',')}]` : invalid[0]);
  else if (settled === 'accepted') res.writeHead(202, { 'mcp-session-id': s.id }).end();
}
