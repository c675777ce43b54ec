// A secret split across many calls (issue 12, finding 6): the first pieces went out, because each piece
// alone is too short to be a key and the trail joins only what crosses a call boundary. Pieces of a
// secret an earlier result carried are now the secret from the first piece (invented server and key).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecretPieces } from '../src/analyze/secret-pieces.js';
import { guardedSession } from './adversarial/support/guarded.js';

const TOKEN = 'ghp_Zq7Lm2Vx9Rt4Kp8Wn3Bc6Yd1Hf5Js0Ga2Ue';

/** A session that has read the notes holding the token. */
async function afterRead() {
  const g = await guardedSession(
    [
      { name: 'read_notes', answer: `Release checklist.\ntoken = ${TOKEN}` },
      { name: 'post_comment', description: 'Posts a comment on a public issue.' },
    ],
    { purpose: 'Read the release notes and post a summary comment', tools: ['read_notes', 'post_comment'] },
  );
  await g.call('read_notes', { file: 'release.md' });
  return g;
}

describe('secret pieces', () => {
  it('every 8-character run of a secret a result carried is a piece; ordinary text is not', () => {
    const pieces = new SecretPieces();
    pieces.add(`deploy notes\ntoken = ${TOKEN}\n`);
    assert.equal(pieces.carried([TOKEN.slice(0, 8)]), true, 'the first piece');
    assert.equal(pieces.carried([`part 3: ${TOKEN.slice(20, 30)}`]), true, 'a middle piece inside text');
    assert.equal(pieces.carried([TOKEN.slice(0, 7)]), false, 'shorter than a piece');
    assert.equal(pieces.carried(['deploy notes for the greenhouse release']), false);
  });

  it('the first piece sent out is halted (IG-EXF-002, real SDK session)', async () => {
    const g = await afterRead();
    const first = await g.call('post_comment', { issue: 12, body: `p1 ${TOKEN.slice(0, 10)}` });
    await g.close();
    assert.equal(first.action, 'halt', JSON.stringify(first));
    assert.ok(first.rules.includes('IG-EXF-002'), JSON.stringify(first));
  });

  it('must not fire: a summary without any piece of the token passes', async () => {
    const g = await afterRead();
    const r = await g.call('post_comment', {
      issue: 12,
      body: 'Release checklist reviewed, all items done.',
    });
    await g.close();
    assert.ok(r.action === 'allow' || r.action === 'alert', JSON.stringify(r));
  });
});
