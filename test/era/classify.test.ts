// Era detection per request, headers against the body, trace context, version pinning (issue 15).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkVersionPinned,
  classifyRequest,
  isEraRefusal,
  type RequestEra,
} from '../../src/era/classify.js';
import { checkRequestHeaders, decodeHeaderValue } from '../../src/era/headers.js';
import { META, SPEC_CODES } from '../../src/era/keys.js';
import { parseTraceparent, traceContextOf } from '../../src/era/trace.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
const modern = (params: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: {
    name: 'read_file',
    arguments: { path: '/tmp/x' },
    ...params,
    _meta: {
      [META.protocolVersion]: '2026-07-28',
      [META.clientCapabilities]: { elicitation: {} },
      [META.clientInfo]: { name: 'agent', version: '1' },
      ...meta,
    },
  },
});

describe('era: classifyRequest', () => {
  it('a request without the _meta version is legacy; with it, modern, its client fields unverified', () => {
    const legacy = classifyRequest({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.deepEqual(legacy, { era: 'legacy', unverified: {} });
    const r = classifyRequest(modern({}, { traceparent: TP, tracestate: 'a=b' }), '2026-07-28') as RequestEra;
    assert.equal(r.era, 'modern');
    assert.equal(r.version, '2026-07-28');
    assert.deepEqual(r.unverified.clientInfo, { name: 'agent', version: '1' });
    assert.deepEqual(r.unverified.clientCapabilities, { elicitation: {} });
    assert.deepEqual(r.trace, { traceparent: TP, tracestate: 'a=b', valid: true });
  });

  it('refuses a protocol-version header that contradicts the body with HeaderMismatch -32020', () => {
    const r = classifyRequest(modern(), '2025-11-25');
    assert.ok(isEraRefusal(r));
    assert.equal(r.rpc, SPEC_CODES.HEADER_MISMATCH);
    assert.equal(r.code, 'ERR_HEADER_MISMATCH');
    assert.equal(r.status, 400);
  });

  it('refuses an unknown version with -32022 naming the supported ones', () => {
    const r = classifyRequest(modern({}, { [META.protocolVersion]: '2099-01-01' }));
    assert.ok(isEraRefusal(r));
    assert.equal(r.rpc, SPEC_CODES.UNSUPPORTED_PROTOCOL_VERSION);
    assert.deepEqual(r.data, { supported: ['2026-07-28'], requested: '2099-01-01' });
  });

  it('refuses a modern request missing clientCapabilities, a non-string version, or a header-only claim (-32602)', () => {
    for (const bad of [
      classifyRequest(modern({}, { [META.clientCapabilities]: undefined })),
      classifyRequest(modern({}, { [META.clientCapabilities]: [] })),
      classifyRequest(modern({}, { [META.protocolVersion]: 20260728 })),
      classifyRequest({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, '2026-07-28'),
    ]) {
      assert.ok(isEraRefusal(bad));
      assert.equal(bad.rpc, -32602);
      assert.equal(bad.code, 'ERR_META_MISSING');
    }
  });

  it('pins a session to its first version: another one (or the other era) is refused -32022', () => {
    assert.equal(checkVersionPinned('2026-07-28', '2026-07-28'), undefined);
    const r = checkVersionPinned('legacy', '2026-07-28')!;
    assert.equal(r.rpc, SPEC_CODES.UNSUPPORTED_PROTOCOL_VERSION);
    assert.equal(r.code, 'ERR_PROTOCOL_VERSION_CHANGED');
    assert.deepEqual(r.data, { supported: ['legacy'], requested: '2026-07-28' });
  });
});

describe('era: Mcp-Method / Mcp-Name against the body', () => {
  const headers = (h: Record<string, string>) => (name: string) => h[name];
  const msg = modern();

  it('accepts matching headers, plain or Base64-sentinel encoded', () => {
    assert.equal(
      checkRequestHeaders(msg, headers({ 'mcp-method': 'tools/call', 'mcp-name': 'read_file' })),
      undefined,
    );
    const enc = `=?base64?${Buffer.from('read_file').toString('base64')}?=`;
    assert.equal(
      checkRequestHeaders(msg, headers({ 'mcp-method': 'tools/call', 'mcp-name': enc })),
      undefined,
    );
    const uri = { method: 'resources/read', params: { uri: 'file:///café' } };
    const u = `=?base64?${Buffer.from('file:///café').toString('base64')}?=`;
    assert.equal(
      checkRequestHeaders(uri, headers({ 'mcp-method': 'resources/read', 'mcp-name': u })),
      undefined,
    );
    assert.equal(
      checkRequestHeaders({ method: 'tools/list' }, headers({ 'mcp-method': 'tools/list' })),
      undefined,
    );
  });

  it('refuses a missing, contradicting or malformed header with -32020', () => {
    const cases: Record<string, string>[] = [
      {},
      { 'mcp-method': 'tools/list', 'mcp-name': 'read_file' },
      { 'mcp-method': 'tools/call' },
      { 'mcp-method': 'tools/call', 'mcp-name': 'write_file' },
      { 'mcp-method': 'tools/call', 'mcp-name': '=?base64?cmVhZF9maWxl?=x' },
      { 'mcp-method': 'tools/call', 'mcp-name': '=?base64?cmVhZF9maWxl=?=' },
      { 'mcp-method': 'tools/call', 'mcp-name': '=?base64?/w==?=' },
      { 'mcp-method': 'tools/call', 'mcp-name': 'read_file, write_file' },
      { 'mcp-method': 'tools/call', 'mcp-name': 'read\u00e9file' },
    ];
    for (const h of cases) {
      const r = checkRequestHeaders(msg, headers(h));
      assert.ok(r, JSON.stringify(h));
      assert.equal(r.rpc, -32020);
      assert.equal(r.code, 'ERR_HEADER_MISMATCH');
      assert.equal(r.status, 400);
    }
  });

  it('property: a header passes only when it decodes to exactly the body name', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.boolean(), (body, claimed, encode) => {
        const value = encode ? `=?base64?${Buffer.from(claimed).toString('base64')}?=` : claimed;
        const r = checkRequestHeaders(
          { method: 'tools/call', params: { name: body } },
          headers({ 'mcp-method': 'tools/call', 'mcp-name': value }),
        );
        const decoded = decodeHeaderValue(value);
        assert.equal(r === undefined, decoded !== undefined && decoded === body);
        if (r === undefined) assert.equal(decoded, body);
      }),
    );
  });
});

describe('era: trace context (SEP-414)', () => {
  it('records traceparent/tracestate/baggage and checks the traceparent shape', () => {
    assert.equal(parseTraceparent(TP)?.spanId, '00f067aa0ba902b7');
    for (const bad of [
      TP.toUpperCase(),
      TP.slice(0, -1),
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      'ff-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01',
      `${TP}-extra`,
    ])
      assert.equal(parseTraceparent(bad), undefined, bad);
    assert.equal(traceContextOf({ traceparent: 'nonsense' })!.valid, false);
    assert.equal(traceContextOf({ other: 1 }), undefined);
    assert.equal(traceContextOf({ traceparent: 5 }), undefined);
  });
});
