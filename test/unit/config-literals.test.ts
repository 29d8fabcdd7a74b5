import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load-config.js';
import { MAX_CONFIG_BYTES, MAX_NESTING, MAX_SYNTAX_NODES } from '../../src/config/source-limits.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';
import { configError as loadError } from '../support/config-error.js';

const HCL = '/etc/sidecar/sidecar.hcl';
const JSON_FILE = '/etc/sidecar/sidecar.json';

const configError = (source: string, file = HCL) => loadError(source, file);

const contentsOf = async (source: string, file = HCL) => (await parseConfig(source, file)).templates[0]?.contents;
const template = (contents: string) => `template {\n  contents    = ${contents}\n  destination = "/dev/shm/x"\n}\n`;

describe('strings are kept exactly as written', () => {
  it('keeps leading, trailing and inner spaces of quoted HCL strings', async () => {
    expect(await contentsOf(template('"  x  "'))).toBe('  x  ');
    expect(await contentsOf(template('" "'))).toBe(' ');
    expect(await contentsOf(template('"\\t a  b \\n"'))).toBe('\t a  b \n');
    expect(await contentsOf(template('" $${literal} "'))).toBe(' ${literal} ');
    const config = await parseConfig('backend "file" "local" {\n  path = "/run/secrets/ a.json "\n}\n', HCL);
    expect(config.backends[0]).toMatchObject({ path: '/run/secrets/ a.json ' });
  });

  it('refuses perms = "0600 " at its position instead of trimming it', async () => {
    const error = await configError('template {\n  contents    = "x"\n  destination = "/dev/shm/x"\n  perms       = "0600 "\n}\n');
    expect(error.message).toBe('/etc/sidecar/sidecar.hcl:4:17: template[0].perms: perms must be an octal string such as "0600", not "0600 "');
  });

  it('keeps heredoc lines exactly, trailing spaces and CRLF included', async () => {
    expect(await contentsOf(template('<<EOT\n  a  \n\tb\t\nEOT'))).toBe('  a  \n\tb\t\n');
    expect(await contentsOf(template('<<-EOT\n    a  \n      b \n    EOT'))).toBe('a  \n  b \n');
    const crlf = template('<<EOT\r\nline one \r\nline two\r\nEOT').replaceAll('\n', '\r\n').replaceAll('\r\r\n', '\r\n');
    expect(await contentsOf(crlf)).toBe('line one \r\nline two\r\n');
  });

  it('reads a CRLF config and a UTF-8 byte-order mark like any other', async () => {
    const source = '\uFEFF' + template('" x "').replaceAll('\n', '\r\n');
    expect(await contentsOf(source)).toBe(' x ');
    expect(await contentsOf('\uFEFF{"template": {"contents": " y ", "destination": "/dev/shm/y"}}', JSON_FILE)).toBe(' y ');
  });

  it('keeps JSON strings exactly too', async () => {
    expect(await contentsOf(JSON.stringify({ template: [{ contents: '  x  \n', destination: '/dev/shm/x' }] }), JSON_FILE)).toBe('  x  \n');
    const error = await configError(JSON.stringify({ template: [{ contents: 'x', destination: '/dev/shm/x', perms: '0600 ' }] }), JSON_FILE);
    expect(error.message).toMatch(/^\/etc\/sidecar\/sidecar\.json:1:\d+: template\[0\]\.perms: perms must be an octal string/);
  });
});

describe('escapes in HCL strings', () => {
  it('decodes \\u and \\U escapes of Unicode scalar values', async () => {
    expect(await contentsOf(template('"\\u00e9\\U0001F600"'))).toBe('é😀');
  });

  it.each([
    ['an out-of-range \\U', '"ab\\UFFFFFFFF"', 20, 'invalid escape: not a Unicode scalar value'],
    ['\\U00110000, one past the last code point', '"\\U00110000"', 18, 'invalid escape: not a Unicode scalar value'],
    ['a lone high surrogate', '"\\uD800"', 18, 'invalid escape: not a Unicode scalar value'],
    ['a lone low surrogate', '"x\\uDFFF"', 19, 'invalid escape: not a Unicode scalar value'],
    ['a surrogate pair (HCL writes astral characters with \\U)', '"\\uD83D\\uDE00"', 18, 'invalid escape: not a Unicode scalar value'],
    // The grammar itself stops at these; still coded and located.
    ['a short \\u', '"\\u12"', 18, 'syntax error: unexpected "\\"'],
    ['a short \\U', '"\\U0001F60"', 18, 'syntax error: unexpected "\\"'],
    ['an unknown escape', '"\\q"', 18, 'syntax error: unexpected "\\"'],
  ])('refuses %s with a coded error at the escape', async (_what, literal, column, message) => {
    const error = await configError(template(literal));
    expect(error.code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
    expect(error.message).toContain(`/etc/sidecar/sidecar.hcl:2:${column}: ${message}`);
  });
});

describe('encoding', () => {
  it('refuses invalid UTF-8 in a config file at its position instead of writing U+FFFD', async () => {
    const dir = await makeTmpfsDir('config-utf8-');
    try {
      const file = join(dir, 'sidecar.hcl');
      await writeFile(
        file,
        Buffer.concat([Buffer.from('template {\n  contents = "caf'), Buffer.from([0xe9]), Buffer.from('"\n  destination = "/dev/shm/x"\n}\n')]),
      );
      await expect(loadConfig(file)).rejects.toThrow(`${file}:2:18: the config is not valid UTF-8 here`);
      await writeFile(file, template('"café \uFFFD"'));
      expect((await loadConfig(file)).templates[0]?.contents).toBe('café \uFFFD');
    } finally {
      await removeDir(dir);
    }
  });

  it('refuses a lone surrogate escape in JSON at its value, and reads a surrogate pair', async () => {
    const error = await configError('{"template": {"contents": "a\\uD800b", "destination": "/dev/shm/x"}}', JSON_FILE);
    expect(error.message).toBe(
      '/etc/sidecar/sidecar.json:1:27: invalid escape: a lone surrogate is not a character (write a character outside the BMP as one pair, or as itself)',
    );
    expect(await contentsOf('{"template": {"contents": "\\uD83D\\uDE00", "destination": "/dev/shm/x"}}', JSON_FILE)).toBe('😀');
  });

  it('refuses a lone surrogate in config text handed over as a string', async () => {
    expect((await configError(template('"ab\uD800"'))).message).toBe('/etc/sidecar/sidecar.hcl:2:20: the config is not valid UTF-8 here');
  });
});

describe('NUL characters', () => {
  it('refuses a raw NUL byte anywhere in the file, at its position', async () => {
    expect((await configError('log_level = "info"\n  \0 template {}\n')).message).toBe(
      '/etc/sidecar/sidecar.hcl:2:3: a NUL character is not allowed in a config (is this a binary file?)',
    );
    expect((await configError('{"log_level": "info",\n\0}', JSON_FILE)).message).toMatch(/sidecar\.json:2:1: a NUL character/);
  });

  it('refuses \\u0000 in a path, command or header, and keeps it in template contents', async () => {
    const error = await configError('template {\n  contents    = "x"\n  destination = "/dev/shm/a\\u0000b"\n}\n');
    expect(error.message).toBe('/etc/sidecar/sidecar.hcl:3:17: a NUL character (\\u0000) is allowed only in template contents');
    expect((await configError('notify "c" {\n  command = ["a", "b\\u0000"]\n}\n')).message).toMatch(/sidecar\.hcl:2:19: a NUL character/);
    expect(
      (await configError(JSON.stringify({ notify: { h: { http: { url: 'http://127.0.0.1/', headers: { 'x-a': 'b\u0000' } } } } }), JSON_FILE)).message,
    ).toMatch(/sidecar\.json:1:\d+: a NUL character/);
    expect(await contentsOf(template('"a\\u0000b"'))).toBe('a\0b');
  });
});

describe('deep nesting', () => {
  const deepBlocks = (n: number) => 'a {\n'.repeat(n) + '}\n'.repeat(n);

  it(`refuses 100,000 nested HCL blocks, lists or objects with a located error, not a stack overflow`, async () => {
    const blocks = await configError(deepBlocks(100_000));
    expect(blocks.code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
    expect(blocks.message).toBe(
      `/etc/sidecar/sidecar.hcl:${MAX_NESTING + 1}:1: blocks, lists and objects are nested more than ${MAX_NESTING} levels deep here`,
    );
    const lists = await configError(`x = ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
    expect(lists.message).toBe(`/etc/sidecar/sidecar.hcl:1:${5 + MAX_NESTING}: blocks, lists and objects are nested more than ${MAX_NESTING} levels deep here`);
    const objects = await configError(`x = ${'{a = '.repeat(100_000)}1${'}'.repeat(100_000)}\n`);
    expect(objects.message).toMatch(/^\/etc\/sidecar\/sidecar\.hcl:1:\d+: blocks, lists and objects are nested more than/);
    // Unbalanced: the parser's error tree is deep too.
    expect((await configError(`x = ${'['.repeat(100_000)}\n`)).code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
  });

  it('refuses 100,000 nested JSON arrays or objects with a located error', async () => {
    const arrays = await configError('['.repeat(100_000) + ']'.repeat(100_000), JSON_FILE);
    expect(arrays.message).toBe(`/etc/sidecar/sidecar.json:1:${MAX_NESTING + 1}: arrays and objects are nested more than ${MAX_NESTING} levels deep here`);
    const objects = await configError('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000), JSON_FILE);
    expect(objects.message).toMatch(/^\/etc\/sidecar\/sidecar\.json:1:\d+: arrays and objects are nested more than/);
    // Brackets inside strings are text, not nesting.
    const text = '['.repeat(1000);
    expect(await contentsOf(JSON.stringify({ template: { contents: text, destination: '/dev/shm/x' } }), JSON_FILE)).toBe(text);
  });

  it('accepts nesting up to the limit', async () => {
    const error = await configError(deepBlocks(MAX_NESTING));
    expect(error.message).toMatch(/unknown key "a"/);
  });
});

describe('size', () => {
  it('refuses a config of 100 MB of whitespace before parsing it', async () => {
    const error = await configError(' '.repeat(100 * 1024 * 1024) + 'log_level = "info"\n');
    expect(error).toMatchObject({ code: 'SIDECAR_ERR_CONFIG_SYNTAX' });
    expect(error.message).toBe('/etc/sidecar/sidecar.hcl:1:1: the config is larger than 1 MiB');
    expect((await configError(' '.repeat(MAX_CONFIG_BYTES + 1) + '{}', JSON_FILE)).message).toMatch(/larger than 1 MiB/);
  });

  it('refuses an HCL config of more syntax elements than any real one, before turning them into values', async () => {
    const error = await configError(`x = [${'1,'.repeat(100_000)}1]\n`);
    expect(error.message).toBe(`/etc/sidecar/sidecar.hcl:1:1: the config has more than ${MAX_SYNTAX_NODES} syntax elements`);
  });

  it('counts bytes, not characters, and accepts a config just under the limit', async () => {
    const config = await parseConfig(`log_level = "info"\n${'#'.repeat(MAX_CONFIG_BYTES - 100)}\n`, HCL);
    expect(config.logLevel).toBe('info');
    expect((await configError(`# ${'é'.repeat(MAX_CONFIG_BYTES / 2)}\n`)).message).toMatch(/larger than 1 MiB/);
  });
});

describe('keys that look like paths or templates', () => {
  it('treats them as unknown keys, named at their position', async () => {
    const error = await configError('"../../etc/passwd" = "x"\n');
    expect(error.code).toMatch(/SIDECAR_ERR_CONFIG_(SYNTAX|INVALID)/);
    expect(error.message).toMatch(/^\/etc\/sidecar\/sidecar\.hcl:1:1: /);
    const json = await configError('{"{{secret \\"x:y\\"}}": 1, "__proto__": {"log_level": "debug"}}', JSON_FILE);
    expect(json.message).toBe('/etc/sidecar/sidecar.json:1:2: unknown keys "{{secret "x:y"}}", "__proto__"');
    expect(({} as Record<string, unknown>)['log_level']).toBeUndefined();
    const notify = await configError('notify "../../tmp/x" {\n  command = ["a"]\n}\n');
    expect(notify.message).toMatch(/^\/etc\/sidecar\/sidecar\.hcl:1:1: notify\.\.\.\/\.\.\/tmp\/x: /);
  });
});
