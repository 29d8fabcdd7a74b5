import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateParts } from '../../src/backends/azure/certificate-bundle.js';
import { parseEjson } from '../../src/backends/ejson/ejson-document.js';
import { parseDocument } from '../../src/backends/file/parse-document.js';
import { VaultBackend } from '../../src/backends/vault/vault-backend.js';
import { parseConfig } from '../../src/config/load-config.js';
import { writeFileAtomically } from '../../src/output/write-file.js';
import { isSidecarError, type SidecarError } from '../../src/errors.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { compileTemplate } from '../../src/template/compile.js';
import { renderTemplate } from '../../src/template/render.js';
import { parseSecretRef } from '../../src/template/secret-ref.js';
import { REPO_ROOT } from '../support/dirs.js';
import { vaultBackendConfig } from '../support/vault-config.js';

/*
 * Property-based fuzzing with fast-check, fixed seed: every input either works or fails with a coded error
 * (naming file and position where there is one), never an uncaught exception of another kind, and no error ever
 * quotes the secret planted in the input. FUZZ_RUNS raises the case count (bench-sized runs: see README);
 * FUZZ_SEED replays a failure.
 */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261124);
const CANARY = 'fuzz-canary-secret-9b9b';
const settings = { numRuns: RUNS, seed: SEED, endOnFailure: true };
const cases: Record<string, number> = {};
const counted = (name: string) => () => void (cases[name] = (cases[name] ?? 0) + 1);

/** Either the value, or a SidecarError whose message holds no canary; anything else fails the property. */
async function codedOrOk(run: () => unknown, check: (error: SidecarError) => void = () => undefined): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!isSidecarError(error)) throw new Error(`not a coded error: ${String(error)}`, { cause: error });
    expect(error.message).not.toContain(CANARY);
    expect(error.hint ?? '').not.toContain(CANARY);
    check(error);
  }
}

/** Text with one of its characters replaced, or a slice cut out, or something inserted: broken configs. */
const mutated = (text: string) =>
  fc
    .tuple(
      fc.nat({ max: text.length }),
      fc.nat({ max: 40 }),
      fc.string({ maxLength: 12, unit: fc.constantFrom('"', '{', '}', '[', ']', '=', '\n', '#', '$', '\\', ',', ' ', 'a', '0', ':', '<', '*', '/') }),
    )
    .map(([at, cut, insert]) => text.slice(0, at) + insert + text.slice(Math.min(text.length, at + cut)));

const EXAMPLE_HCL = readFileSync(join(REPO_ROOT, 'sidecar.example.hcl'), 'utf8');
const SMALL_HCL = `backend "file" "local" {\n  path = "/s.json"\n}\ntemplate {\n  contents = "{{secret \\"local:db#password\\"}} ${CANARY}"\n  destination = "/dev/shm/x"\n}\n`;
const SMALL_JSON = JSON.stringify(
  { backend: { file: { local: { path: '/s.json' } } }, template: [{ contents: `{{secret "local:db"}} ${CANARY}`, destination: '/dev/shm/x' }] },
  null,
  2,
);

afterAll(() => {
  console.log(
    `fuzz seed ${SEED}: ${Object.entries(cases)
      .map(([name, n]) => `${n} ${name}`)
      .join(', ')}`,
  );
});

describe('fuzzed inputs (fast-check, fixed seed)', () => {
  it('configs (HCL and JSON): valid, or a config error naming file:line:col', async () => {
    const positioned = (error: SidecarError) => {
      expect(error.code).toMatch(/^SIDECAR_ERR_CONFIG_/);
      expect(error.message).toMatch(/\/etc\/sidecar\.(hcl|json):\d+:\d+/);
    };
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(SMALL_HCL), mutated(EXAMPLE_HCL)), async (text) => {
        counted('HCL configs')();
        await codedOrOk(() => parseConfig(text, '/etc/sidecar.hcl'), positioned);
      }),
      settings,
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(SMALL_JSON), fc.json()), async (text) => {
        counted('JSON configs')();
        await codedOrOk(() => parseConfig(text, '/etc/sidecar.json'), positioned);
      }),
      settings,
    );
  });

  it('templates: compile and render, or a template/render error naming the template; no secret in any message', async () => {
    const pieces = fc.constantFrom(
      '{{',
      '}}',
      '{{#each',
      '{{/each}}',
      '{{#range',
      '{{/range}}',
      '{{#let',
      ' as |v|',
      '{{toYAML',
      '{{toJSON',
      '{{printf "%s',
      '(split',
      '(list "a:b/")',
      '{{unconverted',
      '{{#with',
      '{{/with}}',
      '{{secret "a:b#k"}}',
      '{{json',
      '(secret "a:b")',
      'this',
      '../',
      '{{else}}',
      '{{{',
      '}}}',
      '"',
      ' ',
      'x',
      '\n',
      '{{!',
      '--}}',
      '{{>',
      '{{#*inline',
      '#k',
      '=',
      'default=',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(pieces, { maxLength: 24 }).map((p) => p.join('')),
        fc.constantFrom<unknown>(CANARY, { k: CANARY }, [CANARY, CANARY], 42, null),
        async (source, value) => {
          counted('templates')();
          await codedOrOk(
            () => {
              const compiled = compileTemplate('fuzz.hbs', source, true, 4096);
              renderTemplate(compiled, { store: { lookup: () => ({ status: 'ready', value }) }, mask: false, errorOnMissingKey: true, env: {}, envAllow: [] });
            },
            (error) => expect(error.message).toContain('fuzz.hbs'),
          );
        },
      ),
      settings,
    );
  });

  it('secret references: parsed, or SIDECAR_ERR_REF_INVALID', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60, unit: fc.constantFrom('a', 'b', ':', '#', '.', '\\', '?', '=', '&', '/', ' ', '%', '-') }), async (text) => {
        counted('references')();
        await codedOrOk(
          () => parseSecretRef(text, {}),
          (error) => expect(error.code).toBe('SIDECAR_ERR_REF_INVALID'),
        );
      }),
      settings,
    );
  });

  it('file-backend documents (JSON, YAML) and ejson files: parsed, or malformed with a position and no content quoted', async () => {
    const document = fc.oneof(
      fc.json().map((j) => j.replace(/"([^"]*)"/, `"${CANARY}$1"`)),
      mutated(`{"db": {"password": "${CANARY}"}, "list": [1, 2]}`),
      mutated(`db:\n  password: ${CANARY}\nlist:\n  - 1\n`),
    );
    await fc.assert(
      fc.asyncProperty(document, fc.constantFrom<'json' | 'yaml'>('json', 'yaml'), async (text, format) => {
        counted('documents')();
        await codedOrOk(
          () => parseDocument(text, format, '/s.doc'),
          (error) => expect(error.code).toBe('SIDECAR_ERR_BACKEND_MALFORMED'),
        );
      }),
      settings,
    );
    const ejson = mutated(`{"_public_key": "${'ab'.repeat(32)}", "db": {"password": "EJ[1:${'A'.repeat(43)}=:${'B'.repeat(32)}:${CANARY}]"}}`);
    await fc.assert(
      fc.asyncProperty(ejson, async (text) => {
        counted('ejson files')();
        await codedOrOk(() => parseEjson(text, '/s.ejson'));
      }),
      settings,
    );
  });

  it('certificate bundles from Key Vault (PKCS#12 base64, PEM): split, or malformed', async () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(mutated(pem), fc.base64String({ maxLength: 200 })),
        fc.constantFrom('application/x-pkcs12', 'application/x-pem-file'),
        async (text, contentType) => {
          counted('certificate bundles')();
          await codedOrOk(
            () => certificateParts(text, contentType, 'kv:tls'),
            (error) => expect(error.code).toBe('SIDECAR_ERR_BACKEND_MALFORMED'),
          );
        },
      ),
      { ...settings, numRuns: Math.ceil(RUNS / 4) },
    );
  });

  describe('Vault responses cut short, of the wrong type or huge (a local server answers what fast-check makes)', () => {
    let server: Server;
    let answer: { status: number; body: string } = { status: 200, body: '{}' };
    let backend: VaultBackend;
    beforeAll(async () => {
      server = createServer((req, res) => {
        req.resume();
        // The mount lookup always answers: the fuzzed body is the secret read's.
        if (req.url?.startsWith('/v1/sys/internal/ui/mounts/')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { path: 'secret/', type: 'kv', options: { version: '2' } } }));
          return;
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const config = vaultBackendConfig(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
        auth: { method: 'token', token: 'fuzz-token', tokenFile: undefined },
      });
      backend = new VaultBackend(config, {}, createSilentLogger(), { attempts: 0, backoffMs: 1, maxBackoffMs: 1 }, false, writeFileAtomically);
    });
    afterAll(async () => {
      await backend.close();
      server.close();
    });

    it('decodes a KV read, or fails with a coded error that quotes nothing of the body', async () => {
      const good = JSON.stringify({ data: { data: { password: CANARY }, metadata: { version: 3 } } });
      const body = fc.oneof(
        fc.nat({ max: good.length }).map((n) => good.slice(0, n)),
        mutated(good),
        fc.json().map((j) => j.replace(/"([^"]*)"/, `"${CANARY}$1"`)),
        fc.constant(JSON.stringify({ data: { data: { password: CANARY.repeat(20_000) } } })),
        fc.constant(`${CANARY} <html>not json</html>`),
      );
      await fc.assert(
        fc.asyncProperty(body, fc.constantFrom(200, 200, 200, 400, 403, 404, 429, 500, 503), async (text, status) => {
          counted('Vault responses')();
          answer = { status, body: text };
          await codedOrOk(() => backend.fetch('secret/app', { signal: new AbortController().signal }));
        }),
        { ...settings, numRuns: Math.ceil(RUNS / 2) },
      );
    });
  });
});
