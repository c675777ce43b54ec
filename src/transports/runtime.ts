import type { AlertStream } from '../alerts/ws-stream.js';
import type { Approvals } from '../approvals/approvals.js';
import type { SessionQuota } from '../carrier/session-quota.js';
import type { GrantGate } from '../identity/gate.js';
import type { Intent } from '../model/intent.js';
import type { Monitor } from '../monitor/create.js';
import type { Observability } from '../observe/observability.js';
import type { Recorder } from '../store/recorder.js';
import type { Store } from '../store/db.js';
import type { PgStore } from '../store/pg/store.js';
import type { FleetSessions } from '../fleet/sessions.js';
import type { Visibility } from '../visibility/visibility.js';
import type { EraGate } from '../mrtr/gate.js';
import type { ConsoleAttachOptions } from '../console/attach.js';

// What a transport is given: the composition root (src/app/runtime.ts, createRuntime) builds it from
// the configuration; transports only use it.

/** Everything a proxy is configured with (intentguard.yaml, flags and environment merged). */
export interface RuntimeOptions {
  readonly mode: 'enforce' | 'monitor';
  /** The store (a SQLite path or a postgres:// URL), or false for no recording. */
  readonly db: string | false;
  /** A PostgreSQL store's audit key file (default INTENTGUARD_AUDIT_KEY, else ./intentguard-pg.key). */
  readonly auditKey?: string;
  readonly failClosedOnRecordError?: boolean;
  readonly pack: boolean;
  readonly rules: readonly string[];
  /** The approved intent for sessions whose grant carries none (or with no grants configured). */
  readonly intentFile?: string;
  readonly auth?: {
    readonly jwks?: string;
    readonly jwksUrl?: string;
    readonly pem?: string;
    readonly alg?: string;
    readonly issuers: readonly string[];
    readonly audience: string;
    readonly maxTtl?: string;
    readonly clockSkew?: string;
  };
  readonly alerts?: {
    readonly jsonl?: string;
    readonly webhook?: string;
    readonly webhookSecret?: string;
    readonly wsPort?: number;
    readonly wsToken?: string;
  };
  readonly approvals?: {
    readonly elicitation?: boolean;
    readonly webhook?: string;
    readonly webhookSecret?: string;
    readonly cli?: boolean;
    readonly timeout?: string;
    /**
     * The console serving this store (`--approval-url`): held 2026-07-28 calls are asked in URL mode
     * pointing at its `/approvals/ID` page and decided there (implies the database channel). Default:
     * the console of `--console-port`, when there is one.
     */
    readonly url?: string;
  };
  /** Serve the security console beside the traffic (`--console-port`): it decides held calls through the store. */
  readonly console?: ConsoleAttachOptions;
  /** Where to say how to approve a held call (stderr by default). */
  readonly log?: (line: string) => void;
  readonly maxMessageBytes?: number;
  /** The server runs on this host (stdio, `http -- <command>`): path scopes are checked on real paths. */
  readonly localServer?: boolean;
  /** HTTP and WebSocket proxies: browser origins allowed to call (none by default; see `createFrontDoor`). */
  readonly allowedOrigins?: readonly string[];
  /** HTTP and WebSocket proxies: names the `Host` header may carry besides the listen address. */
  readonly allowedHosts?: readonly string[];
  /** Most sessions one agent identity (grant `sub`) may hold open at once (default 16). */
  readonly maxSessionsPerAgent?: number;
  /** `approved`: `tools/list` offers every session only its approved tools (see `effectiveVisibility`). */
  readonly visibility?: Visibility;
  /** Prometheus metrics (default true; `intentguard stdio` keeps them only with `--metrics-port`). */
  readonly metrics?: boolean;
  /** Serve `/metrics`, `/healthz`, `/readyz` on their own listener (`--metrics-listen`, `--metrics-port`). */
  readonly metricsListen?: { readonly host: string; readonly port: number };
}

export interface Runtime {
  readonly monitor: Monitor;
  readonly gate?: GrantGate;
  readonly store?: Store;
  /** The PostgreSQL store, when `db` is a postgres:// URL (then `store` is absent). */
  readonly pgStore?: PgStore;
  /** A fleet's stateless sessions: one owner at a time (leases), taken over from the record. */
  readonly fleetSessions?: FleetSessions;
  readonly recorder?: Recorder;
  readonly approvals?: Approvals;
  readonly alertStream?: AlertStream;
  readonly defaultIntent?: Intent;
  /** Sessions per agent identity, shared by every session-opening path of the proxy. */
  readonly sessionQuota: SessionQuota;
  readonly options: RuntimeOptions;
  /** The MCP 2026-07-28 half: era per request, approvals over MRTR (src/mrtr/gate.ts). */
  readonly era: EraGate;
  /** Metrics, traces and the health endpoints (see `createObservability`). */
  readonly observe: Observability;
  close(): Promise<void>;
}
