import type { createStatelessHttp } from '../../stateless/http.js';
import type { Runtime } from '../runtime.js';
import type { SessionTable } from './sessions.js';
import type { Upstream } from './upstream.js';

/**
 * What every handler of a Streamable HTTP proxy to an HTTP upstream shares: built once by
 * `startHttpProxy`, passed to the POST, GET and DELETE handlers.
 */
export interface HttpCarrier {
  readonly runtime: Runtime;
  readonly upstream: Upstream;
  readonly sessions: SessionTable;
  /** The size limit of one body (a client's POST, an upstream answer). */
  readonly maxBody: number;
  /** Most sessions open at once. */
  readonly maxSessions: number;
  /** Answer a held call that needs a wider grant with HTTP 403 insufficient_scope. */
  readonly stepUp403: boolean;
  /** The MCP 2026-07-28 stateless path (requests admitted by their grant alone), when it applies. */
  readonly stateless: ReturnType<typeof createStatelessHttp> | undefined;
  /** RFC 9728 protected-resource metadata URL (known once the server listens). */
  readonly metadataUrl: () => string;
}
