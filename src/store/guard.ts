import { ALLOW, verdictOf, type Policy } from '../model/policy.js';
import type { Recorder } from './recorder.js';

/**
 * Fail closed on recording errors: while the recorder is unhealthy (disk full, database locked),
 * every request is denied rather than run unrecorded. Enabled by default in enforce mode.
 */
export function recordingGuard(recorder: Pick<Recorder, 'healthy' | 'lastError'>): Policy {
  return {
    name: 'recording-guard',
    evaluate({ event }) {
      if (recorder.healthy || event.kind !== 'request' || event.synthetic) return ALLOW;
      return verdictOf([
        {
          rule: 'core/recording-failed',
          action: 'deny',
          severity: 'high',
          code: 'ERR_RECORD_FAILED',
          reason: `recording failed (${recorder.lastError?.message ?? 'unknown error'}); calls are denied rather than run unrecorded`,
        },
      ]);
    },
  };
}
