// Found running the demo after issue 13's seals: the grant gate reports `identity/grant-revoked` from its
// own sessionEnded$ subscriber, after the recorder had queued the session's seal, so the alert landed
// after the seal and `audit verify` called it "inserted". What anyone reports while a session ends
// belongs to that session and is sealed with it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMonitor } from '../../src/monitor/create.js';
import { verifyAudit } from '../../src/store/audit.js';
import { openStore } from '../../src/store/db.js';
import { createRecorder } from '../../src/store/recorder.js';
import { driveSession } from '../helpers/session.js';

describe('alerts reported while a session ends are inside its seal', () => {
  for (const thread of ['worker', 'inline'] as const) {
    it(`an alert from a sessionEnded$ subscriber after the recorder's (${thread} writer) verifies`, async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'ig-endalert-')), 'intentguard.db');
      const store = openStore(path);
      const monitor = createMonitor();
      const recorder = createRecorder(store, monitor, { thread });
      // Subscribed after the recorder, as the grant gate is in the proxies' runtime.
      monitor.sessionEnded$.subscribe((s) =>
        monitor.report(s.id, {
          rule: 'identity/grant-revoked',
          action: 'alert',
          severity: 'high',
          reason: 'revoked at the end',
        }),
      );
      const id = await driveSession(monitor, { sub: 'agent:end' });
      await recorder.flush();
      await recorder.close();
      monitor.close();
      const alerts = store.db.prepare('SELECT rule FROM alerts WHERE session_id = ?').all(id) as {
        rule: string;
      }[];
      assert.ok(
        alerts.some((a) => a.rule === 'identity/grant-revoked'),
        'the end-of-session alert is recorded',
      );
      const report = verifyAudit(store);
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
      store.close();
    });
  }
});
