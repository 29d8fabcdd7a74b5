import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backends/create-backend.js';
import { writeFileAtomically } from '../../src/output/write-file.js';
import type { SecretBackend } from '../../src/backends/types.js';
import { isSidecarError } from '../../src/errors.js';
import { subscribeEvents, type SidecarEvent } from '../../src/events.js';
import { createLogger } from '../../src/log/logger.js';
import { SidecarMetrics } from '../../src/observe/metrics.js';
import { Readiness } from '../../src/observe/readiness.js';
import { renderToCompletion } from '../../src/runner/render-to-completion.js';
import type { LoadedTemplate } from '../../src/runner/load-templates.js';
import type { TemplateConfig } from '../../src/config/types.js';
import { compileTemplate } from '../../src/template/compile.js';
import { Watcher } from '../../src/watch/watcher.js';
import { canary } from '../support/canary.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';
import { LogCapture } from '../support/leaks.js';

/*
 * Computed references and helper chains over canary values (fast-check, fixed seed), rendered for real: the
 * file backend, the watcher and its views, the logger, the audit records, metrics and readiness. Whatever a
 * template computes from a secret, no canary may appear in an error, a log line, an audit record, a metric label,
 * a readiness reason or a view's label.
 */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261201);

const C = Array.from({ length: 8 }, (_, i) => canary(`fuzz-derived-${i}`));
const ENV_VALUE = canary('fuzz-env');
const SECRETS = {
  p0: `local:${C[0]}`, // names a secret that does not exist
  p1: `  local:${C[1]}  `,
  p2: Buffer.from(`local:${C[2]}`).toString('base64'),
  v3: C[3], // not a reference at all
  p4: `local:${C[4]}`, // names one that exists
  [C[4] ?? '']: 'present-value',
  obj: { a: C[5], b: `local:${C[6]}`, n: 12345678 },
  list: [`local:${C[7]}`, 'local:p4'],
  bin: randomBytes(64).toString('base64'),
};
const CANARIES = [...C, ENV_VALUE, SECRETS.p2];

const leaf = fc.constantFrom(
  '(secret "local:p0")',
  '(secret "local:p1")',
  '(secret "local:p2")',
  '(secret "local:v3")',
  '(secret "local:p4")',
  '(secret "local:obj#a")',
  '(secret "local:obj#b")',
  '(secret "local:obj")',
  '(secret "local:obj#n")',
  '(secret "local:list")',
  '(secret "local:bin")',
  '(env "FUZZ_ENV")',
  '"local:p4"',
  '"plain"',
);
const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('e').map((x) => `(trim ${x})`),
    tie('e').map((x) => `(base64Decode ${x})`),
    tie('e').map((x) => `(base64Encode ${x})`),
    tie('e').map((x) => `(default ${x} "local:p4")`),
    tie('e').map((x) => `(json ${x})`),
    tie('e').map((x) => `(indent ${x} 2)`),
    tie('e').map((x) => `(secret ${x})`),
    tie('e').map((x) => `(lookup ${x} "b")`),
    // The helpers converted Go templates use.
    tie('e').map((x) => `(replace ${x} "a" "b")`),
    tie('e').map((x) => `(upper ${x})`),
    tie('e').map((x) => `(lower ${x})`),
    tie('e').map((x) => `(trimSpace ${x})`),
    tie('e').map((x) => `(join (split ${x} "-") ":")`),
    tie('e').map((x) => `(printf "%s=%v" ${x} "x")`),
    tie('e').map((x) => `(toJSON ${x})`),
    tie('e').map((x) => `(toJSONPretty ${x})`),
    tie('e').map((x) => `(toYAML ${x})`),
    tie('e').map((x) => `(list ${x})`),
    tie('e').map((x) => `(and ${x} ${x})`),
    tie('e').map((x) => `(printf "%d" (len ${x}))`),
    tie('e').map((x) => `(or (not ${x}) ${x})`),
    // What convert writes for a lazy and/or argument.
    tie('e').map((x) => `(and ${x} (deferred "secret" ${x}))`),
    tie('e').map((x) => `(or ${x} (deferred "len" (deferred "upper" ${x})))`),
  ),
})).e;
const statement = fc.oneof(
  expr.map((x) => `{{secret ${x}}}`),
  expr.map((x) => `{{secret "local:app" token=${x} ttl="1h"}}`),
  expr.map((x) => `{{env ${x}}}`),
  expr.map((x) => `{{#each ${x}}}{{secret this}}{{/each}}`),
  fc.tuple(expr, expr).map(([x, y]) => `{{#if ${x}}}{{secret ${y}}}{{else}}-{{/if}}`),
  expr.map((x) => `{{#with (secret "local:obj")}}{{secret b}}{{secret ${x}}}{{/with}}`),
  expr.map((x) => `{{json ${x} indent=2}}`),
  expr.map((x) => `{{#range ${x} as |v k|}}{{k}}{{secret v}}{{else}}-{{/range}}`),
  expr.map((x) => `{{#let ${x} as |v|}}{{secret v}}{{/let}}`),
  fc.tuple(expr, expr).map(([x, y]) => `{{#let ${x} cell=true as |c|}}{{assign c ${y}}}{{secret c.value}}{{/let}}`),
  fc.tuple(expr, expr).map(([x, y]) => `{{#if (contains ${x} ${y})}}{{secret ${x}}}{{/if}}{{#if (eq ${x} ${y})}}={{/if}}`),
);
const template = fc.array(statement, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('\n'));

let dir: string;
let backend: SecretBackend;
const logger = () => {
  const capture = new LogCapture();
  return { capture, logger: createLogger({ level: 'trace', format: 'json', stream: capture }) };
};
const seen = { ok: 0, coded: 0 };

beforeAll(async () => {
  dir = await makeTmpfsDir('sidecar-fuzz-derived-');
  await writeFile(join(dir, 'secrets.json'), JSON.stringify(SECRETS));
  backend = await createBackend(
    { type: 'file', name: 'local', path: join(dir, 'secrets.json'), format: undefined, pollIntervalMs: undefined },
    { logger: logger().logger, env: {}, retry: { attempts: 1, backoffMs: 1, maxBackoffMs: 1 }, live: false, writeFile: writeFileAtomically },
  );
});

afterAll(async () => {
  await backend.close?.();
  await removeDir(dir);
  console.log(`derived fuzz seed ${SEED}: ${seen.ok} rendered, ${seen.coded} coded errors`);
});

describe('fuzzed computed references and helper chains (fast-check, fixed seed)', () => {
  it('never show a secret, or anything derived from one, in errors, logs, audit records, metric labels or labels', async () => {
    await fc.assert(
      fc.asyncProperty(template, fc.boolean(), async (source, mask) => {
        const { capture, logger: log } = logger();
        const metrics = new SidecarMetrics();
        const readiness = new Readiness(0, () => Date.now() + 60_000);
        const events: SidecarEvent[] = [];
        const unsubscribe = subscribeEvents((event) => {
          events.push(event);
          metrics.observe(event);
          readiness.observe(event);
        });
        const watcher = new Watcher({
          backends: new Map([['local', backend]]),
          logger: log,
          retry: { attempts: 1, backoffMs: 1, maxBackoffMs: 1 },
          live: false,
        });
        const loaded = {
          config: { name: 't.hbs', errorOnMissingKey: true } as TemplateConfig,
          compiled: compileTemplate('t.hbs', source, true),
        } as LoadedTemplate;
        const shown: string[] = [];
        try {
          await renderToCompletion(loaded, watcher, { mask, errorOnMissingKey: true, env: { FUZZ_ENV: ENV_VALUE }, envAllow: ['FUZZ_ENV'] });
          seen.ok++;
        } catch (error) {
          if (!isSidecarError(error)) throw new Error(`not a coded error: ${String(error)}`, { cause: error });
          seen.coded++;
          shown.push(error.message, error.hint ?? '');
        } finally {
          shown.push(...watcher.keys().map((k) => `${watcher.view(k)?.label ?? ''} ${watcher.view(k)?.lastError?.message ?? ''}`));
          await watcher.stop();
          unsubscribe();
        }
        shown.push(capture.text, JSON.stringify(events), await metrics.text(), readiness.state().reasons.join('\n'));
        const all = shown.join('\n');
        for (const value of CANARIES) expect(all, `template:\n${source}`).not.toContain(value);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  });
});
