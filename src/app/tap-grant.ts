import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Monitor } from '../monitor/create.js';
import { tap, type TappedTransport } from '../transports/sdk/tap.js';
import type { GrantGate } from '../identity/gate.js';

/**
 * Verify the agent's grant, then tap the transport with the session bound to the grant's identity
 * and intent. A refused grant throws its GrantError and nothing is connected or forwarded.
 * @example const t = await tapWithGrant(transport, monitor, gate, process.env.INTENTGUARD_GRANT, { side: 'client' })
 */
export async function tapWithGrant(
  transport: Transport,
  monitor: Monitor,
  gate: GrantGate,
  token: string | undefined,
  options: { side: 'client' | 'server' },
): Promise<TappedTransport> {
  const grant = await gate.verify(token);
  return tap(transport, monitor, { side: options.side, intent: grant.intent, identity: grant.identity });
}
