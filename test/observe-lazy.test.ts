import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'ig-lazy-'));
// A module hook that reports every module resolved from prom-client or OpenTelemetry (on stderr).
writeFileSync(
  join(dir, 'hooks.mjs'),
  `import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('/@opentelemetry/') || r.url.includes('/prom-client/')) writeSync(2, 'LOADED ' + r.url + '\\n');
  return r;
}
`,
);
writeFileSync(
  join(dir, 'register.mjs'),
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
);
const runtimeUrl = pathToFileURL(join(process.cwd(), 'src/proxy/runtime.ts')).href;

/** Create and close a runtime in a fresh process; the modules it loaded from prom-client and OpenTelemetry. */
function loaded(options: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<string[]> {
  const script = `const m = await import(${JSON.stringify(runtimeUrl)});
const r = await m.createRuntime({ mode: 'monitor', db: false, pack: false, rules: [], log() {}, ...${JSON.stringify(options)} });
await r.close();`;
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--import', join(dir, 'register.mjs'), '--input-type=module', '-e', script],
      { env: { ...env, OTEL_BSP_SCHEDULE_DELAY: '10' } },
      (err, _out, stderr) => {
        if (err) return reject(new Error(`${err.message}\n${stderr}`));
        resolve(stderr.split('\n').filter((l) => l.startsWith('LOADED ')));
      },
    ),
  );
}

const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));

describe('observability is loaded only when asked for', () => {
  it('without OTEL_* and without metrics, neither prom-client nor OpenTelemetry is loaded', async () => {
    assert.deepEqual(await loaded({ metrics: false }, clean), []);
  });

  it('metrics load prom-client only; OTEL_EXPORTER_OTLP_ENDPOINT loads OpenTelemetry', async () => {
    const metricsOnly = await loaded({}, clean);
    assert.ok(metricsOnly.some((l) => l.includes('/prom-client/')));
    assert.ok(!metricsOnly.some((l) => l.includes('/@opentelemetry/')));
    const traced = await loaded(
      { metrics: false },
      { ...clean, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' },
    );
    assert.ok(traced.some((l) => l.includes('/@opentelemetry/')));
    // OTEL_TRACES_EXPORTER=none switches traces off even with an endpoint.
    const off = await loaded(
      { metrics: false },
      { ...clean, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_EXPORTER: 'none' },
    );
    assert.deepEqual(off, []);
  });

  it('an exporter intentguard cannot use is ERR_CONFIG at start', async () => {
    await assert.rejects(
      loaded({ metrics: false }, { ...clean, OTEL_TRACES_EXPORTER: 'console' }),
      /ERR_CONFIG|OTEL_TRACES_EXPORTER=console is not supported/,
    );
  });
});
