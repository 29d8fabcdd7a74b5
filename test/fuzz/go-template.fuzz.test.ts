import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { translateGoTemplate } from '../../src/convert/go-template/translate.js';
import { isSidecarError } from '../../src/errors.js';
import { compileTemplate } from '../../src/template/compile.js';
import type { SecretLookup } from '../../src/template/render-state.js';
import { renderTemplate } from '../../src/template/render.js';
import { canary } from '../support/canary.js';

/*
 * The translator over Go templates assembled from pieces of the syntax (fast-check, fixed seed): it never throws,
 * what it writes always compiles as a sidecar template, every finding points inside the file, and rendering the
 * result either works or fails with a coded error that quotes no secret.
 */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261201);
const SECRET = canary('fuzz-go-template');

const pieces = fc.constantFrom(
  '{{',
  '}}',
  '{{- ',
  ' -}}',
  '{{/* c */}}',
  '{{ end }}',
  '{{ else }}',
  '{{ else if .Data.x }}',
  '{{ if ',
  '{{ with ',
  '{{ range ',
  'secret "secret/data/app" ',
  'secret "kv1/app" ',
  'secrets "kv1/dir/" ',
  'pkiCert "pki/issue/web" "common_name=a" ',
  '.Data.data.password ',
  '.Data.x ',
  '.Data ',
  '. ',
  '$x := ',
  '$x = ',
  '$x ',
  '$k, $v := ',
  '| toUpper ',
  '| toJSON ',
  '| toYAML ',
  '| split "," ',
  '| join "," ',
  'printf "%s" ',
  'index . "k" ',
  'env "HOME" ',
  'key "k" ',
  'plugin "p" ',
  '(',
  ')',
  '"str" ',
  '`raw` ',
  '42 ',
  'true ',
  'nil ',
  'eq ',
  'and ',
  'not ',
  '\n',
  '  ',
  'text',
  '\\',
  '{',
  '}',
  '"',
  "'a'",
  '{{"{{"}}',
  '[[',
  ']]',
);

const VALUES: Record<string, unknown> = {
  'vault:secret/data/app': { password: SECRET, x: 'x' },
  'vault:kv1/app': { x: SECRET, k: 'k' },
  'vault:kv1/dir/': ['a', 'b'],
};

describe('fuzzed Go templates (fast-check, fixed seed)', () => {
  it('translate into templates that compile, with findings inside the file, rendering or failing with a coded error', () => {
    let converted = 0;
    fc.assert(
      fc.property(
        fc.array(pieces, { maxLength: 30 }).map((p) => p.join('')),
        (source) => {
          const { template, findings } = translateGoTemplate(source, { file: 'f.ctmpl', vaultBackend: 'vault' });
          const lines = source.split('\n');
          for (const f of findings) {
            expect(f.line).toBeGreaterThanOrEqual(1);
            expect(f.line).toBeLessThanOrEqual(lines.length);
            expect(f.column).toBeGreaterThanOrEqual(1);
            expect(f.column).toBeLessThanOrEqual((lines[f.line - 1]?.length ?? 0) + 1);
          }
          const compiled = compileTemplate('f.hbs', template, false);
          if (findings.length === 0) converted++;
          const fetched = new Set<string>();
          try {
            for (let pass = 0; pass < 5; pass++) {
              const result = renderTemplate(compiled, {
                store: { lookup: (key): SecretLookup => (fetched.has(key) ? { status: 'ready', value: VALUES[key] } : { status: 'missing' }) },
                mask: false,
                errorOnMissingKey: false,
                env: {},
                envAllow: [],
              });
              if (result.status === 'complete') break;
              for (const key of result.missing.keys()) fetched.add(key);
            }
          } catch (error) {
            if (!isSidecarError(error)) throw new Error(`not a coded error: ${String(error)}\n${template}`, { cause: error });
            expect(error.message).not.toContain(SECRET);
          }
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(`go-template fuzz seed ${SEED}: ${RUNS} templates, ${converted} converted without findings`);
  });
});
