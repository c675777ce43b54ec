// One intentguard instance of a fleet, in its own process: `intentguard http`'s runtime and proxy on a
// PostgreSQL store, driven by the fleet tests over stdin/stdout (one JSON line each way). It prints
// {"ready": proxyUrl} once listening; commands: revoke (through the runtime's own revocation set),
// revoked (is a grant revoked here, now?).
import { createInterface } from 'node:readline';
import { createRuntime } from '../../src/app/runtime.js';
import { pgLedger } from '../../src/fleet/ledger.js';
import type { FleetRevocations } from '../../src/fleet/revocations.js';
import type { InstanceConfig } from './fleet-helpers.js';
import { startHttpProxy } from '../../src/transports/http/server.js';

const config = JSON.parse(process.env.FLEET_INSTANCE ?? '{}') as InstanceConfig;
const runtime = await createRuntime({
  mode: 'enforce',
  db: config.store,
  auditKey: config.auditKey,
  pack: true,
  rules: [],
  log: (line) => process.env.FLEET_DEBUG && process.stderr.write(`instance: ${line}\n`),
  auth: { jwks: config.jwks, issuers: [config.iss], audience: config.aud },
  // Held calls wait in the shared approvals table for `intentguard approve|deny --store postgres://…`.
  ...(config.approvals !== false && { approvals: { cli: true, timeout: '10m' } }),
});
const proxy = await startHttpProxy({
  ...(config.server ? { server: config.server } : { upstream: config.upstream }),
  runtime,
});
const revocations = runtime.gate!.revocations as FleetRevocations;
const ledger = await pgLedger(runtime.pgStore!);
const reply = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
reply({ ready: proxy.url, pid: process.pid });

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { id: number; op: string; jti?: string; sub?: string; nonces?: unknown };
  try {
    if (cmd.op === 'revoke') {
      await revocations.revokeShared({ jti: cmd.jti! }, 'revoked on another instance');
      reply({ id: cmd.id, at: Date.now() });
    } else if (cmd.op === 'redeem') {
      // The MRTR ledger as the runtime's era gate uses it: redeemed here, then confirmed fleet-wide.
      const nonces = cmd.nonces as string[];
      const exp = Date.now() + 60_000;
      const won = await Promise.all(
        nonces.map(
          async (n) => ledger.redeem(n, exp, Date.now()) && (await ledger.confirm!(n, exp, Date.now())),
        ),
      );
      reply({ id: cmd.id, won });
    } else if (cmd.op === 'revoked') {
      reply({ id: cmd.id, revoked: revocations.isRevoked(cmd.jti ?? '', cmd.sub ?? '', Date.now()) });
    } else reply({ id: cmd.id, error: `unknown op ${cmd.op}` });
  } catch (e) {
    reply({ id: cmd.id, error: (e as Error).message });
  }
}
await proxy.close();
await runtime.close();
