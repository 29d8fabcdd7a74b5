import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { isSidecarError } from '../../src/errors.js';

/*
 * Config literals under fire (fast-check, fixed seed): escapes of every shape, NUL, CR, byte-order marks, nesting
 * and unquoted tokens. Each config is read exactly (a valid string comes back as the value JSON.parse or the
 * escape table gives), or refused with a coded, located config error that never quotes the planted token.
 */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261201);
const settings = { numRuns: RUNS, seed: SEED, endOnFailure: true };
const TOKEN = 'AKIAFUZZCANARY7Q2Z';

async function outcome(text: string, file: string): Promise<{ contents: string | undefined } | { code: string; message: string }> {
  try {
    return { contents: (await parseConfig(text, file)).templates[0]?.contents };
  } catch (error) {
    if (!isSidecarError(error)) throw new Error(`not a coded error: ${String(error)}`, { cause: error });
    return { code: error.code, message: error.message };
  }
}

const located = (file: string) => new RegExp(`^${file.replaceAll('.', '\\.')}:\\d+:\\d+: `);
const piece = fc.constantFrom(
  '\\',
  'u',
  'U',
  'D',
  '8',
  '0',
  '0',
  'F',
  'f',
  'e',
  '1',
  '\0',
  '\r',
  '\n',
  '\t',
  ' ',
  '\uFEFF',
  '"',
  '$',
  '{',
  '}',
  '%',
  'n',
  'x',
  '\uD800',
  'é',
);

describe('fuzzed config literals (fast-check, fixed seed)', () => {
  it('HCL quoted strings: exact value, or a located config error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: piece, maxLength: 24 }), fc.boolean(), fc.boolean(), async (body, crlf, bom) => {
        let text = `template {\n  contents = "${body}"\n  destination = "/dev/shm/x"\n}\n`;
        if (crlf) text = text.replaceAll('\n', '\r\n');
        if (bom) text = '\uFEFF' + text;
        const result = await outcome(text, '/etc/sidecar.hcl');
        if ('code' in result) {
          expect(result.code).toMatch(/^SIDECAR_ERR_CONFIG_/);
          expect(result.message).toMatch(located('/etc/sidecar.hcl'));
        } else {
          // What a plain body (no escapes, no specials) must come back as: itself.
          if (!/[\\$%"\r\n\0\uD800]/.test(body)) expect(result.contents).toBe(body);
          expect(result.contents ?? '').not.toMatch(/[\uD800-\uDFFF]/);
        }
      }),
      settings,
    );
  });

  it('JSON strings: exactly what JSON.parse reads, or a located config error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: piece, maxLength: 24 }), async (body) => {
        const text = `{"template": {"contents": "${body}", "destination": "/dev/shm/x"}}`;
        const result = await outcome(text, '/etc/sidecar.json');
        if ('code' in result) {
          expect(result.message).toMatch(located('/etc/sidecar.json'));
        } else {
          const reference = (JSON.parse(text) as { template: { contents: string } }).template.contents;
          expect(result.contents).toBe(reference);
        }
      }),
      settings,
    );
  });

  it('nesting and unquoted tokens: a located error that never quotes the token', async () => {
    const open = fc.constantFrom('[', '{a = ', 'b {\n', '(', '${');
    await fc.assert(
      fc.asyncProperty(fc.array(open, { maxLength: 200 }), fc.boolean(), async (opens, closed) => {
        const body =
          opens.join('') +
          TOKEN +
          (closed
            ? opens
                .map((o) => (o === '[' ? ']' : o === '(' ? ')' : '}'))
                .reverse()
                .join('')
            : '');
        for (const [text, file] of [
          [`x = ${body}\n`, '/etc/sidecar.hcl'],
          [`{"x": ${body}}`, '/etc/sidecar.json'],
        ] as const) {
          const result = await outcome(text, file);
          expect('code' in result).toBe(true);
          if ('code' in result) {
            expect(result.message).toMatch(located(file));
            expect(result.message).not.toContain(TOKEN);
          }
        }
      }),
      { ...settings, numRuns: Math.max(50, RUNS / 4) },
    );
  });
});
