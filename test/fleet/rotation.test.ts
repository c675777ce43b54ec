// A PostgreSQL audit-key rotation on a fleet: the instances stop (an instance still holding the retired
// key refuses to write: test/store/backends.test.ts), the key is rotated, they start again with the new
// key file (and the retired one beside it). A session opened before the rotation and taken over after
// it goes on chained with the key of its epoch, so `audit verify` passes across the rotation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rotatePgKey } from '../../src/store/pg/rotate.js';
import { openPgStore } from '../../src/store/pg/store.js';
import {
  assertVerifies,
  suiteDatabase,
  ECHO_INTENT as intent,
  echoCall as call,
  inProcessInstance as instance,
} from './fleet-helpers.js';

const SCOPE = 'k:rotated-session';

describe('a fleet session across an audit-key rotation', () => {
  const db = suiteDatabase('fleet_rotation');

  it('taken over after the rotation by an instance with the new key, it goes on and the record verifies', async () => {
    const { url, keyFile } = db;
    const a = await instance(url, keyFile, 1);
    const s = await a.openOwned(SCOPE);
    await call(s);
    await a.recorder.flush();
    // The fleet stops (as a rotation requires): the session is left open in the record.
    await a.close();

    const admin = await openPgStore(url, { keyFile, readonly: true });
    try {
      assert.equal((await rotatePgKey(admin, Date.now())).epoch, 1);
    } finally {
      await admin.close();
    }

    const b = await instance(url, keyFile, 1);
    try {
      assert.equal(b.store.epoch, 1);
      const continued = await b.takeOver(SCOPE);
      assert.equal(continued.id, s.id, 'B continued the session opened before the rotation');
      await call(continued);
      continued.close('done');
      // A session opened after the rotation is chained with the new key.
      const fresh = b.monitor.open({ intent, transport: 'http-stateless' });
      await call(fresh);
      fresh.close('done');
      await b.recorder.flush();
    } finally {
      await b.close();
    }
    await assertVerifies(url, keyFile);
  });
});
