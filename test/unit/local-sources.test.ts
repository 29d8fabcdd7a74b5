import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../src/backends/file/file-backend.js';
import { createLogger } from '../../src/log/logger.js';
import { LogCapture } from '../support/leaks.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';

const context = { signal: new AbortController().signal };
let dir: string | undefined;
let backend: FileBackend | undefined;
const SECRETS = ['yaml-secret-1', 'text-secret-2'];
let capture = new LogCapture();

afterEach(async () => {
  for (const value of SECRETS) expect(capture.text).not.toContain(value);
  await backend?.close();
  await removeDir(dir);
  backend = dir = undefined;
});

function open(path: string): FileBackend {
  capture = new LogCapture();
  backend = new FileBackend(
    { type: 'file', name: 'local', path, format: undefined, pollIntervalMs: undefined },
    createLogger({ level: 'debug', format: 'json', stream: capture }),
  );
  return backend;
}

describe('local sources: permanent errors and bytes', () => {
  it('points a YAML error at its own line and column, and does not retry it', async () => {
    dir = await makeTmpfsDir();
    const file = join(dir, 'secrets.yaml');
    await writeFile(file, 'a: yaml-secret-1\nb: 2\n\n\na: 3\n');
    await expect(open(file).fetch('a', context)).rejects.toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      retryable: false,
      message: expect.stringContaining('not valid YAML (line 5, column 1)') as unknown,
    });
    await writeFile(file, 'a: 1\nb:\n  c: [1, 2\n  d: 3\n');
    await expect(open(file).fetch('a', context)).rejects.toMatchObject({ message: expect.stringContaining('(line 4, column') as unknown });
  });

  it('does not retry a directory where a secret file should be', async () => {
    dir = await makeTmpfsDir();
    await mkdir(join(dir, 'tls.key'));
    await expect(open(dir).fetch('tls.key', context)).rejects.toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      retryable: false,
      message: expect.stringContaining('is a directory') as unknown,
    });
  });

  it('hands a binary file of a secret directory over as bytes, and a text file as text', async () => {
    dir = await makeTmpfsDir();
    // A PKCS#12 keystore starts like this: not UTF-8.
    const keystore = Buffer.from([0x30, 0x82, 0x0a, 0x3c, 0x02, 0x01, 0x03, 0x30, 0x82, 0x09, 0xf6, 0xff, 0xfe, 0x00]);
    await writeFile(join(dir, 'keystore.p12'), keystore);
    await writeFile(join(dir, 'password'), 'text-secret-2\n');
    const b = open(dir);
    const binary = (await b.fetch('keystore.p12', context)).value.reveal();
    expect(Buffer.isBuffer(binary)).toBe(true);
    expect((binary as Buffer).equals(keystore)).toBe(true);
    expect((await b.fetch('password', context)).value.reveal()).toBe('text-secret-2\n');
  });
});
