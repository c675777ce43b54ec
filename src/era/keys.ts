/**
 * Names the 2026-07-28 revision fixes on the wire. Each is cited from the stored specification
 * (modelcontextprotocol/modelcontextprotocol, docs/specification/2026-07-28/).
 */

/** The stateless revision intentguard speaks beside 2025-11-25 (changelog.mdx, major change 2). */
export const MODERN_VERSION = '2026-07-28';

/** Protocol revisions that carry their version in every request's `_meta` (basic/index.mdx, "_meta"). */
export const MODERN_VERSIONS: readonly string[] = [MODERN_VERSION];

/** Per-request `_meta` keys (basic/index.mdx, "Per-request protocol fields"). */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/** Error codes the specification defines in its reserved sub-range (basic/index.mdx, "Error Codes"). */
export const SPEC_CODES = {
  /** Headers disagree with the body, or a required header is missing or malformed. */
  HEADER_MISMATCH: -32020,
  /** Serving the request needs a client capability the request did not declare. */
  MISSING_REQUIRED_CLIENT_CAPABILITY: -32021,
  /** The request's protocol version is not one the receiver implements. */
  UNSUPPORTED_PROTOCOL_VERSION: -32022,
  /** A request missing a required `_meta` field is malformed: Invalid params (basic/index.mdx). */
  INVALID_PARAMS: -32602,
} as const;
