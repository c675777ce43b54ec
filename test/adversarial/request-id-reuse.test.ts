// Issue 11 §2: reusing a request id must not defeat the sensitivity ceiling. The refusal of a duplicate
// was counted as the answer to the original request, freeing its id; a later message re-registered the
// id as a ping, and the real tool result was then matched to the ping (no tool-result rule ran).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers/wait.js';
import { AWS_LINE, FILESYSTEM, handshake, project, stdioProxy } from './wire.js';

const SECRET = AWS_LINE.split('=')[1]!;
const call = (id: number | string, path: string) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'read_text_file', arguments: { path } },
  });

/** Send `lines` in one write after the handshake; wait until id 7 has `n` answers or the secret leaked. */
async function probe(lines: string[], n: number, extra: string[] = []) {
  const pj = project();
  const p = stdioProxy(pj.intentFile, [process.execPath, FILESYSTEM, pj.root], extra);
  await handshake(p);
  p.send(lines.map((l) => l.replace('CREDS', pj.creds.replaceAll('\\', '\\\\'))).join('\n'));
  await waitFor(
    () => p.lines.some((l) => l.includes(SECRET)) || p.answers(7).length >= n,
    `${n} answers to id 7`,
    20_000,
  );
  // One more round trip: anything still owed on the wire arrives before we look.
  p.send('{"jsonrpc":"2.0","id":"after","method":"ping"}');
  await p.waitAnswers('after');
  await p.close();
  return p;
}

describe('request id reuse (issue 11 §2)', () => {
  it('request id reuse does not defeat the sensitivity ceiling: the exact three-line probe', async () => {
    const p = await probe(
      [
        call(7, 'CREDS'),
        '{"jsonrpc":"2.0","id":7,"method":"ping"}',
        '{"jsonrpc":"2.0","id":7,"method":"ping","params":[]}',
      ],
      3,
    );
    assert.ok(!p.lines.some((l) => l.includes(SECRET)), 'the secret is never delivered');
    const answers = p.answers(7);
    assert.equal(answers.length, 3, 'each of the three messages gets exactly one answer');
    const codes = answers.map((a) => a.error?.data?.code).sort();
    assert.deepEqual(codes, ['ERR_CALL_DENIED', 'ERR_DUPLICATE_REQUEST_ID', 'ERR_DUPLICATE_REQUEST_ID']);
    const withheld = answers.find((a) => a.error?.data?.code === 'ERR_CALL_DENIED')!;
    assert.ok(
      (withheld.error!.data as { rules: string[] }).rules.includes('IG-SEN-001'),
      'the tool result went through the ceiling rule',
    );
  });

  it('request id reuse: a refused duplicate of any kind (invalid params, oversize, a bad tools/call) frees nothing', async () => {
    const p = await probe(
      [
        call(7, 'CREDS'),
        '{"jsonrpc":"2.0","id":7,"method":"ping","params":"not params"}',
        `{"jsonrpc":"2.0","id":7,"method":"ping","params":{"pad":"${'x'.repeat(5000)}"}}`,
        '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_text_file","arguments":[]}}',
        '{"jsonrpc":"2.0","id":7,"method":"ping","params":[]}',
      ],
      5,
      ['--max-message-bytes', '4096'],
    );
    assert.ok(!p.lines.some((l) => l.includes(SECRET)), 'the secret is never delivered');
    const answers = p.answers(7);
    assert.equal(answers.length, 5, 'one answer per message');
    assert.equal(
      answers.filter((a) => a.error?.data?.code === 'ERR_CALL_DENIED').length,
      1,
      'the real result is withheld by the ceiling',
    );
  });

  it('request id reuse after a cancellation: the id stays taken until the server answers', async () => {
    const p = await probe(
      [
        call(7, 'CREDS'),
        '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}',
        '{"jsonrpc":"2.0","id":7,"method":"ping","params":[]}',
      ],
      1,
    );
    assert.ok(!p.lines.some((l) => l.includes(SECRET)), 'the secret is never delivered');
    const dup = p.answers(7).find((a) => a.error?.data?.code === 'ERR_DUPLICATE_REQUEST_ID');
    assert.ok(dup, 'the reuse of a cancelled id still in flight is refused');
  });

  // Another shape of §2 (the audit's re-probe): a cancellation sent before the request it names, in one
  // batch. The SDK server handles notifications a tick after requests, so it cancelled the request that
  // followed and never answered it, while the monitor (which had nothing to cancel) waited for that
  // answer until the server exited. A cancellation naming no request in flight is not forwarded.
  it('request id reuse: a cancellation naming no request in flight is not forwarded (ERR_CANCEL_UNKNOWN_REQUEST), so the request after it is answered', async () => {
    for (const [shape, rid] of [
      ['number', 7],
      ['string "7" for number 7', '7'],
    ] as const) {
      const pj = project();
      const p = stdioProxy(pj.intentFile, [process.execPath, FILESYSTEM, pj.root]);
      await handshake(p);
      const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: rid } };
      p.send(JSON.stringify([cancel, JSON.parse(call(7, pj.notes)) as unknown]));
      await p.waitAnswers(7);
      await p.close();
      const answer = p.answers(7)[0]!;
      assert.ok(answer.result !== undefined, `${shape}: ${JSON.stringify(answer)}`);
      assert.ok(JSON.stringify(answer.result).includes('Nothing secret here'), shape);
    }
  });
});
