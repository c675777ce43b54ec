import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IntentGuardError } from '../errors.js';
import { parse as parseYaml } from '../lib/yaml.js';
import { jsonlSink } from '../alerts/jsonl.js';
import { webhookSink } from '../alerts/webhook.js';
import type { AlertStream } from '../alerts/ws-stream.js';
import {
  createApprovals,
  databaseChannel,
  elicitationChannel,
  webhookChannel,
  type ApprovalChannel,
} from '../approvals/approvals.js';
import { noApproverLine } from '../approvals/log-lines.js';
import type { GrantGate } from '../identity/gate.js';
import { grantGuard } from '../identity/grant-guard.js';
import { createRevocations } from '../identity/revocations.js';
import { parseIntent } from '../intent/parse.js';
import { localPathResolver } from '../intent/real-path.js';
import { createGrantScopes } from '../policy/grant-scope.js';
import type { Intent } from '../model/intent.js';
import { parseDuration } from '../lib/duration.js';
import { printable } from '../lib/printable.js';
import { createMonitor, type Monitor } from '../monitor/create.js';
import { createEraGate } from '../mrtr/gate.js';
import { sqliteTaskOwners } from '../mrtr/tasks.js';
import { sqliteLedger } from '../mrtr/ledger.js';
import { deriveStateKey } from '../mrtr/state.js';
import { intentPolicy } from '../policy/intent-policy.js';
import type { AnyPolicy } from '../model/policy.js';
import { loadRulePack, packPolicies } from '../rules/pack.js';
import { openStore } from '../store/db.js';
import { parseStoreLocation } from '../store/location.js';
import type { PgStore } from '../store/pg/store.js';
import type { PgFence } from '../store/pg/writer.js';
import { recordingGuard } from '../store/guard.js';
import { createRecorder, type Recorder } from '../store/recorder.js';
import { combinePolicies } from '../policy/combine.js';
import { createObservability } from '../observe/observability.js';
import { createSessionQuota } from '../carrier/session-quota.js';
import type { Runtime, RuntimeOptions } from '../transports/runtime.js';

/** Read an intent file (YAML or JSON); a file that does not parse, or is not an intent, is `ERR_INTENT_INVALID` naming it. */
export function readIntentFile(file: string): Intent {
  return readIntentDocument(file).intent;
}

/** An intent file as written (to embed in a grant) and as parsed. */
export function readIntentDocument(file: string): { doc: unknown; intent: Intent } {
  const text = readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new IntentGuardError(
      'ERR_INTENT_INVALID',
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  try {
    return { doc, intent: parseIntent(doc) };
  } catch (e) {
    throw new IntentGuardError('ERR_INTENT_INVALID', `${file}: ${(e as Error).message}`);
  }
}

/** The intent of a session monitored without one (`--mode monitor`, no `--intent`): nothing is approved. */
export const LEARN_INTENT: Intent = parseIntent({
  id: 'learn-mode',
  purpose: 'learn mode: no intent approved yet (every call is outside intent, alerted and passed)',
  tools: [],
});

/** Build the monitor, recorder, grant gate, approvals and alert sinks a proxy runs with. */
export async function createRuntime(o: RuntimeOptions): Promise<Runtime> {
  const where = o.db ? parseStoreLocation(o.db) : undefined;
  const store = where?.kind === 'sqlite' ? openStore(where.path) : undefined;
  // A fleet's shared store: recording (and, with src/fleet, revocations and approvals) go to PostgreSQL.
  // Loaded only then: a SQLite proxy's start does not load the PostgreSQL driver.
  const pg = where?.kind === 'postgres' ? await pgStoreFor(where.url, o) : undefined;
  const pgStore = pg?.store;
  // Learn mode: monitoring without an intent watches what agents do (every call is outside this empty
  // intent: alerted, recorded, delivered) instead of refusing every session.
  const defaultIntent = o.intentFile
    ? readIntentFile(o.intentFile)
    : o.mode === 'monitor'
      ? LEARN_INTENT
      : undefined;
  let monitor!: Monitor;
  const channels: ApprovalChannel[] = [];
  // The gated agent's own client could answer an elicitation: only when switched on explicitly.
  if (o.approvals?.elicitation === true) channels.push(elicitationChannel());
  if (o.approvals?.webhook)
    channels.push(webhookChannel(o.approvals.webhook, o.approvals.webhookSecret ?? ''));
  if (store && (o.approvals?.cli || o.approvals?.url || o.console)) channels.push(databaseChannel(store));
  // A fleet: held calls wait in the shared approvals table, decided from any host (or the console), released here.
  const fleetApprovals =
    pgStore && (o.approvals?.cli || o.approvals?.url || o.console)
      ? await (await import('../fleet/approvals.js')).pgApprovalChannel(pgStore)
      : undefined;
  if (fleetApprovals) channels.push(fleetApprovals.channel);
  const timeoutMs = o.approvals?.timeout ? parseDuration(o.approvals.timeout) : 60_000;
  const log = o.log ?? ((line: string) => process.stderr.write(`intentguard: ${printable(line)}\n`));
  const approvals = createApprovals(() => monitor, {
    channels,
    ...(store && { store }),
    ...(pgStore && { ledger: (await import('../fleet/approvals.js')).pgApprovalLedger(pgStore) }),
    timeoutMs,
    // Tool names and reasons come from the session: shown escaped, never as terminal control sequences.
    onPending: (p) =>
      log(
        `held ${printable(p.tool)} for ${printable(p.sub)} (session ${p.session}, approval ${p.id}): ${printable(p.reason)}${(store || pgStore) && o.approvals?.cli ? ` — approve with: intentguard approve ${p.id} --store ${pgStore?.display ?? o.db}` : ''}`,
      ),
    onNoApprover: (p) => log(noApproverLine(p)),
  });
  let recorder: Recorder | undefined;
  // Budgets and provenance are kept per grant across its sessions; paths checked where they really lead on this host.
  const grantScopes = createGrantScopes();
  const scoped = { grantScopes, ...(o.localServer && { pathResolver: localPathResolver() }) };
  const policies: AnyPolicy[] = o.pack
    ? packPolicies(loadRulePack([...o.rules]), scoped)
    : [intentPolicy(scoped)];
  // A fleet: a grant's budget is one budget, counted in the shared store whichever instance serves the call.
  if (pgStore)
    policies.push(
      await (await import('../fleet/budget.js')).fleetBudget(pgStore).catch(async (e: unknown) => {
        await fleetApprovals?.close();
        await pgStore.close();
        throw e;
      }),
    );
  // Grants stay checked while their sessions live (expiry, revocation), not only when a session opens.
  const grants = Boolean(o.auth && (o.auth.jwks || o.auth.jwksUrl || o.auth.pem));
  // A fleet: the shared revocations table, every instance woken by NOTIFY (src/fleet/revocations.ts).
  const fleetRevocations =
    grants && pgStore
      ? await (await import('../fleet/revocations.js')).pgRevocations(pgStore).catch(async (e: unknown) => {
          await fleetApprovals?.close();
          await pgStore.close();
          throw e;
        })
      : undefined;
  const revocations = grants ? (fleetRevocations ?? createRevocations(store)) : undefined;
  if (revocations) policies.push(grantGuard(revocations));
  if ((store || pgStore) && (o.failClosedOnRecordError ?? o.mode === 'enforce')) {
    policies.push(
      recordingGuard({
        get healthy() {
          return recorder?.healthy ?? true;
        },
        get lastError() {
          return recorder?.lastError;
        },
      }),
    );
  }
  const observe = await createObservability({
    metrics: o.metrics !== false,
    ...(o.metricsListen && { listen: o.metricsListen }),
    ...(o.allowedHosts && { allowedHosts: o.allowedHosts }),
    log,
  }).catch(async (e: unknown) => {
    store?.close();
    await fleetRevocations?.close();
    await fleetApprovals?.close();
    await pgStore?.close();
    throw e;
  });
  // MCP 2026-07-28: approvals over MRTR, with a requestState key derived from the store's key (so every
  // process on one database verifies the others' states) and single use recorded in that database.
  // With a console, held calls are asked in URL mode on its approval page (known once it listens).
  let pageBase = o.approvals?.url;
  // A fleet: a retry whose approval another instance held (and this one took its session over) is
  // decided by the shared approvals table.
  const shared = pgStore && (await import('../fleet/page-approvals.js')).pgSharedApprovals(pgStore);
  const era = createEraGate({
    page: {
      url: (id) =>
        pageBase === undefined
          ? undefined
          : `${pageBase.replace(/\/+$/, '')}/approvals/${encodeURIComponent(id)}`,
      ...(shared && { shared }),
    },
    approvalTimeoutMs: timeoutMs,
    key: deriveStateKey(store?.key ?? pgStore?.key ?? randomBytes(32)),
    ...(store && { ledger: sqliteLedger(store.db), tasks: sqliteTaskOwners(store.db) }),
    ...(pgStore && {
      ledger: await (await import('../fleet/ledger.js')).pgLedger(pgStore),
      tasks: await (await import('../fleet/tasks.js')).pgTaskOwners(pgStore),
    }),
  });
  monitor = createMonitor({
    policy: observe.timed(combinePolicies(policies)),
    mode: o.mode,
    approver: era.approver(approvals.approver, approvals.adopt),
    approvalTimeoutMs: timeoutMs,
    ...(o.maxMessageBytes !== undefined && { maxMessageBytes: o.maxMessageBytes }),
    ...(o.visibility && { visibility: o.visibility }),
  });
  // A fleet's recorder refuses the rows of sessions whose state another instance took over (fencing).
  let fence: PgFence | undefined;
  recorder = store ? createRecorder(store, monitor) : pgStore ? pg!.record(monitor, () => fence) : undefined;
  // A fleet: each stateless session has one owner instance at a time; another takes it over from the record.
  const fleetSessions =
    pgStore && recorder
      ? await (
          await import('../fleet/sessions.js')
        ).fleetSessions(pgStore, monitor, () => recorder!.flush(), {
          grantScopes,
          // Where the other instances reach this one (default: the address it listens on).
          ...(process.env.INTENTGUARD_ADVERTISE_URL && { address: process.env.INTENTGUARD_ADVERTISE_URL }),
        })
      : undefined;
  if (fleetSessions) fence = { owner: fleetSessions.leases.owner, of: fleetSessions.fence };
  const sinks: { close(): Promise<void> }[] = [];
  let gate: GrantGate | undefined;
  let stream: AlertStream | undefined;
  /** Stop what was started, consumers of the monitor before it and the stores last. */
  const stop = async () => {
    await fleetSessions?.close();
    await recorder?.close();
    for (const s of sinks) await s.close();
    await stream?.close();
    await observe.close();
    gate?.close();
    monitor.close();
    store?.close();
    await fleetRevocations?.close();
    await fleetApprovals?.close();
    await pgStore?.close();
  };
  try {
    if (o.auth && revocations) {
      // Loaded only when grants are configured: jose is most of a proxy's start-up otherwise.
      const [{ createGrantGate }, { DEFAULT_ALGORITHMS, keySourceFrom, resolveKeys }] = await Promise.all([
        import('../identity/gate.js'),
        import('../identity/keys.js'),
      ]);
      gate = createGrantGate(
        monitor,
        {
          keys: await resolveKeys(
            keySourceFrom(o.auth),
            o.auth.pem ? [o.auth.alg ?? 'ES256'] : DEFAULT_ALGORITHMS,
          ),
          issuers: o.auth.issuers,
          audience: o.auth.audience,
          ...(o.auth.maxTtl && { maxTtlMs: parseDuration(o.auth.maxTtl) }),
          ...(o.auth.clockSkew && { clockToleranceMs: parseDuration(o.auth.clockSkew) }),
          ...(defaultIntent && { defaultIntent }),
        },
        revocations,
      );
    }
    if (o.alerts?.jsonl)
      sinks.push(jsonlSink(monitor.alerts$, o.alerts.jsonl === '-' ? process.stderr : o.alerts.jsonl));
    if (o.alerts?.webhook)
      sinks.push(
        webhookSink(monitor.alerts$, {
          url: o.alerts.webhook,
          secret: o.alerts.webhookSecret ?? '',
          ...(store && { store }),
        }),
      );
    stream =
      o.alerts?.wsPort !== undefined && o.alerts.wsToken
        ? await (
            await import('../alerts/ws-stream.js')
          ).alertStream(monitor.alerts$, { port: o.alerts.wsPort, token: o.alerts.wsToken })
        : undefined;
    if (o.console) {
      const c = await (
        await import('../console/attach.js')
      ).attachConsole(
        o.console,
        monitor,
        log,
        // A fleet's console: the shared tables, as `intentguard console --store postgres://…` reads them.
        pgStore && typeof o.db === 'string'
          ? { data: await (await import('./pg-console.js')).pgConsole(pgStore, o.db) }
          : store,
      );
      pageBase ??= c.url;
      sinks.push(c);
    }
    await observe.attach({
      monitor,
      ...(recorder && { recorder }),
      approvals,
      ...(store && { store }),
    });
  } catch (e) {
    // Keys that do not load, an alert port in use: what was started is stopped (the recorder's
    // thread would otherwise keep the process alive after the error is reported).
    await approvals.close();
    await stop();
    throw e;
  }
  return {
    monitor,
    era,
    ...(gate && { gate }),
    ...(store && { store }),
    ...(pgStore && { pgStore }),
    ...(fleetSessions && { fleetSessions }),
    ...(recorder && { recorder }),
    approvals,
    ...(stream && { alertStream: stream }),
    ...(defaultIntent && { defaultIntent }),
    sessionQuota: createSessionQuota(o.maxSessionsPerAgent),
    options: o,
    observe,
    async close() {
      // Held calls are denied (and sealed) while the store is open; nothing waits on it after it closes.
      await approvals.close();
      const grace: NodeJS.Timeout[] = [];
      await Promise.allSettled(
        monitor
          .sessions()
          .map((s) => monitor.session(s.id)?.whenEnded())
          .filter(Boolean)
          .map((p) => Promise.race([p, new Promise((r) => grace.push(setTimeout(r, 2000)))])),
      );
      for (const t of grace) clearTimeout(t);
      await stop();
    },
  };
}

/** Open the PostgreSQL store of a proxy; what it cannot do there yet is refused at start, not skipped. */
async function pgStoreFor(
  url: string,
  o: RuntimeOptions,
): Promise<{ store: PgStore; record(monitor: Monitor, fence: () => PgFence | undefined): Recorder }> {
  const [{ openPgStore }, { createPgRecorder }] = await Promise.all([
    import('../store/pg/store.js'),
    import('../store/pg/recorder.js'),
  ]);
  const store = await openPgStore(url, { ...(o.auditKey && { keyFile: o.auditKey }) });
  return { store, record: (monitor, fence) => createPgRecorder(store, monitor, { fence }) };
}
