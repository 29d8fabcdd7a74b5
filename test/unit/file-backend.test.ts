import { execFileSync } from 'node:child_process';
import { mkdir, open as openFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../src/backends/file/file-backend.js';
import type { FileBackendConfig } from '../../src/backends/file/provider.js';
import { createLogger } from '../../src/log/logger.js';
import { makeKubernetesVolume, updateKubernetesVolume } from '../support/kubernetes-volume.js';
import { LogCapture } from '../support/leaks.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';

const context = { signal: new AbortController().signal };
let dir: string | undefined;
let backend: FileBackend | undefined;
let capture: LogCapture;

/** Every secret value this file handles; none may reach the backend's log. */
const SECRET_VALUES = [
  'json-pw-1',
  'json-key-2',
  'yaml-pw-3',
  'yaml-tok-4',
  'leaky-value-5',
  'leaky-yaml-6',
  'dir-pw-7',
  'outside-secret',
  'k8s-old-8',
  'k8s-new-9',
  'before-10',
  'after-11',
  'burst-0',
  'burst-1',
  'burst-2',
  'burst-3',
];

afterEach(async () => {
  for (const value of SECRET_VALUES) expect(capture.text).not.toContain(value);
  await backend?.close();
  backend = undefined;
  await removeDir(dir);
  dir = undefined;
});

function open(path: string, extra: Partial<FileBackendConfig> = {}): FileBackend {
  capture = new LogCapture();
  backend = new FileBackend(
    { type: 'file', name: 'local', path, format: undefined, pollIntervalMs: undefined, ...extra },
    createLogger({ level: 'debug', format: 'json', stream: capture }),
  );
  return backend;
}

/** Resolves on the next change notification; the test's timeout bounds the wait. */
function nextChange(b: FileBackend, path: string): Promise<void> {
  return new Promise((resolve) => void b.watch(path, resolve));
}

describe('file backend', () => {
  it('reads top-level keys of a JSON file, whole objects included', async () => {
    dir = await makeTmpfsDir();
    const file = join(dir, 'secrets.json');
    await writeFile(file, JSON.stringify({ db: { user: 'app', password: 'json-pw-1' }, key: 'json-key-2' }));
    const b = open(file);
    const db = await b.fetch('db', context);
    expect(db.value.reveal()).toEqual({ user: 'app', password: 'json-pw-1' });
    expect(db.lifetime).toEqual({ kind: 'until-changed' });
    expect((await b.fetch('key', context)).value.reveal()).toBe('json-key-2');
    await expect(b.fetch('nope', context)).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_NOT_FOUND', retryable: false });
    // Versions reveal nothing of the value but change with it.
    expect(db.version).toMatch(/^h:[0-9a-f]{16}$/);
    expect(db.version).not.toContain('json-pw-1');
  });

  it('reads YAML files', async () => {
    dir = await makeTmpfsDir();
    const file = join(dir, 'secrets.yaml');
    await writeFile(file, 'db:\n  user: app\n  password: yaml-pw-3\ntoken: yaml-tok-4\n');
    const b = open(file);
    expect((await b.fetch('db', context)).value.reveal()).toEqual({ user: 'app', password: 'yaml-pw-3' });
    expect((await b.fetch('token', context)).value.reveal()).toBe('yaml-tok-4');
  });

  it('reports a malformed document with its position and without quoting it', async () => {
    dir = await makeTmpfsDir();
    const file = join(dir, 'secrets.json');
    await writeFile(file, '{\n  "db": "leaky-value-5",\n  oops\n}');
    const error = await open(file)
      .fetch('db', context)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_MALFORMED', retryable: false, message: expect.stringContaining('(line 3, column 3)') as unknown });
    expect((error as Error).message).not.toContain('leaky-value-5');
    const yamlFile = join(dir, 'bad.yaml');
    await writeFile(yamlFile, 'a: "leaky-yaml-6\nb: [\n');
    const yamlError = await open(yamlFile)
      .fetch('a', context)
      .catch((e: unknown) => e);
    expect(yamlError).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      message: expect.stringMatching(/not valid YAML \(line \d+, column \d+\)/) as unknown,
    });
    expect((yamlError as Error).message).not.toContain('leaky-yaml-6');
  });

  it('asks for a format it cannot guess, and reports a missing source as not found', async () => {
    dir = await makeTmpfsDir();
    await writeFile(join(dir, 'secrets.txt'), '{}');
    await expect(open(join(dir, 'secrets.txt')).fetch('a', context)).rejects.toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      hint: expect.stringContaining('format') as unknown,
    });
    expect(
      (await open(join(dir, 'secrets.txt'), { format: 'json' })
        .fetch('a', context)
        .catch((e: unknown) => e)) as object,
    ).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_NOT_FOUND' });
    await expect(open(join(dir, 'absent.json')).fetch('a', context)).rejects.toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_NOT_FOUND',
      message: expect.stringContaining('does not exist') as unknown,
    });
  });

  it('reads a directory with one file per secret, parsing .json and .yaml entries', async () => {
    dir = await makeTmpfsDir();
    await writeFile(join(dir, 'password'), 'dir-pw-7\n');
    await writeFile(join(dir, 'db.json'), '{"user":"app"}');
    const b = open(dir);
    expect((await b.fetch('password', context)).value.reveal()).toBe('dir-pw-7\n');
    expect((await b.fetch('db.json', context)).value.reveal()).toEqual({ user: 'app' });
    await expect(b.fetch('missing', context)).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_NOT_FOUND' });
  });

  it('never reads outside its directory or hidden entries', async () => {
    dir = await makeTmpfsDir();
    const inside = join(dir, 'secrets');
    await mkdir(inside);
    await writeFile(join(dir, 'outside'), 'outside-secret');
    await symlink(join(dir, 'outside'), join(inside, 'escape'));
    const b = open(inside);
    for (const path of ['../outside', 'sub/file', '.hidden', '..data']) {
      await expect(b.fetch(path, context)).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_NOT_FOUND' });
    }
    await expect(b.fetch('escape', context)).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_DENIED' });
  });

  it('notices a Kubernetes-style update, where only the ..data symlink is swapped', async () => {
    dir = await makeTmpfsDir();
    const volume = join(dir, 'volume');
    await makeKubernetesVolume(volume, { password: 'k8s-old-8' });
    const b = open(volume);
    expect((await b.fetch('password', context)).value.reveal()).toBe('k8s-old-8');
    const changed = nextChange(b, 'password');
    await b.watch('password', () => undefined); // ensure the watch is live before swapping
    await updateKubernetesVolume(volume, { password: 'k8s-new-9' });
    await changed;
    expect((await b.fetch('password', context)).value.reveal()).toBe('k8s-new-9');
  });

  it('notices a JSON file replaced by rename and serves the new content', async () => {
    dir = await makeTmpfsDir();
    const file = join(dir, 'secrets.json');
    await writeFile(file, JSON.stringify({ key: 'before-10' }));
    const b = open(file);
    expect((await b.fetch('key', context)).value.reveal()).toBe('before-10');
    const changed = nextChange(b, 'key');
    await b.watch('key', () => undefined);
    await writeFile(join(dir, 'secrets.json.new'), JSON.stringify({ key: 'after-11' }));
    await rename(join(dir, 'secrets.json.new'), file);
    await changed;
    expect((await b.fetch('key', context)).value.reveal()).toBe('after-11');
  });

  it('sees the last of a quick burst of replacements, which chokidar would otherwise throttle away', async () => {
    dir = await makeTmpfsDir();
    const file = join(dir, 'secrets.json');
    await writeFile(file, JSON.stringify({ key: 'burst-0' }));
    const b = open(file);
    let sawFinal!: () => void;
    const final = new Promise<void>((resolve) => (sawFinal = resolve));
    await b.watch('key', () => {
      void b.fetch('key', context).then(
        (s) => s.value.reveal() === 'burst-3' && sawFinal(),
        () => undefined,
      );
    });
    for (const n of [1, 2, 3]) {
      await writeFile(`${file}.new`, JSON.stringify({ key: `burst-${n}` }));
      await rename(`${file}.new`, file);
    }
    await final;
    expect((await b.fetch('key', context)).value.reveal()).toBe('burst-3');
  });

  it('gives up a read stuck on the source when its fetch is aborted (shutdown, once --timeout), and reads again after', async () => {
    dir = await makeTmpfsDir();
    const fifo = join(dir, 'stuck');
    // A FIFO with no writer: reading it blocks, as a hung network mount does.
    execFileSync('mkfifo', [fifo]);
    const b = open(dir);
    const controller = new AbortController();
    const fetching = b.fetch('stuck', { signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(fetching).rejects.toThrow('shutting down');
    await expect(b.fetch('stuck', { signal: AbortSignal.abort(new Error('already over')) })).rejects.toThrow('already over');
    // Release the abandoned read, still waiting for a writer: one that closes at once gives it end-of-file.
    await (await openFile(fifo, 'w')).close();
    await writeFile(join(dir, 'ok'), 'fine');
    expect((await b.fetch('ok', context)).value.reveal()).toBe('fine');
  });
});
