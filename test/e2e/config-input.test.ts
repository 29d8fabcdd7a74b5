import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';

/*
 * Bad config input through the built CLI: each was exit 1 ("a bug", SIDECAR_ERR_INTERNAL) or a silent change;
 * each is now exit 2 with a coded config error naming file:line:col.
 */
let dir: string | undefined;
beforeAll(async () => {
  dir = await makeTmpfsDir('config-input-');
});
afterAll(() => removeDir(dir));

async function validate(name: string, content: string | Buffer): Promise<{ code: number | null; message: string; file: string }> {
  const file = join(dir ?? '', name);
  await writeFile(file, content);
  const result = await runCli(['validate', '-c', file]);
  const record = JSON.parse(result.stderr.trim().split('\n').pop() ?? '{}') as { error?: { code: string; message: string } };
  expect(record.error?.code).toMatch(/^SIDECAR_ERR_CONFIG_(SYNTAX|INVALID)$/);
  return { code: result.code, message: record.error?.message ?? '', file };
}

describe('bad config input (validate, built CLI)', () => {
  it.each([
    ['an out-of-range \\U escape', 'esc.hcl', 'template {\n  contents    = "\\UFFFFFFFF"\n  destination = "/dev/shm/x"\n}\n', '2:18: invalid escape'],
    [
      '100,000 nested HCL blocks',
      'deep.hcl',
      'a {\n'.repeat(100_000) + '}\n'.repeat(100_000),
      '65:1: blocks, lists and objects are nested more than 64 levels',
    ],
    [
      '100,000 nested HCL lists',
      'list.hcl',
      `x = ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
      '1:69: blocks, lists and objects are nested more than 64 levels',
    ],
    ['100,000 nested JSON arrays', 'deep.json', '['.repeat(100_000) + ']'.repeat(100_000), '1:65: arrays and objects are nested more than 64 levels'],
    [
      '100,000 nested JSON objects',
      'obj.json',
      '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000),
      '1:321: arrays and objects are nested more than 64 levels',
    ],
    ['a NUL byte', 'nul.hcl', 'log_level = "info"\n\0\n', '2:1: a NUL character is not allowed'],
    ['invalid UTF-8', 'latin1.hcl', Buffer.from('log_level = "caf\xe9"\n', 'latin1'), '1:17: the config is not valid UTF-8 here'],
    [
      'perms with a trailing space',
      'perms.hcl',
      'template {\n  contents    = "x"\n  destination = "/dev/shm/x"\n  perms       = "0600 "\n}\n',
      '4:17: template[0].perms: perms must be an octal string',
    ],
    ['a 2 MiB config', 'big.hcl', ' '.repeat(2 * 1024 * 1024), '1:1: the config is larger than 1 MiB'],
  ])('refuses %s with exit 2 and its position', async (_what, name, content, expected) => {
    const { code, message, file } = await validate(name, content);
    expect(message).toContain(`${file}:${expected}`);
    expect(code).toBe(2);
  });

  it('renders quoted strings exactly as written, from a CRLF config with a byte-order mark', async () => {
    const file = join(dir ?? '', 'exact.hcl');
    await writeFile(file, '\uFEFFtemplate {\r\n  contents    = "  x  "\r\n  destination = "/dev/shm/x"\r\n}\r\n');
    const result = await runCli(['once', '-c', file, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('==> /dev/shm/x <==\n  x  \n');
  });
});
