import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeStaleTempFiles, writeAtomically, type WriteRequest } from '../../src/output/atomic-write.js';
import { filesystemOf } from '../../src/output/filesystem-check.js';
import { resolveOwnerId } from '../../src/output/owner.js';
import { REPO_ROOT, makeDiskDir, makeTmpfsDir, removeDir } from '../support/dirs.js';

let dir: string | undefined;
afterEach(async () => {
  await removeDir(dir);
  dir = undefined;
});

function request(destination: string, contents: string, extra: Partial<WriteRequest> = {}): WriteRequest {
  return { destination, contents, perms: 0o600, uid: undefined, gid: undefined, createDirs: true, allowNonTmpfs: false, ...extra };
}

function versioned(n: number): string {
  // Sizes vary so that a torn read would show as a checksum mismatch.
  const body = `version ${n}\n` + 'x'.repeat(4096 + ((n * 7919) % 60_000)) + '\n';
  return `sha256:${createHash('sha256').update(body).digest('hex')}\n${body}`;
}

describe('atomic write', () => {
  it('writes with the requested mode, creating the directory, and skips identical content', async () => {
    dir = await makeTmpfsDir();
    const destination = join(dir, 'nested', 'app.env');
    expect(await writeAtomically(request(destination, 'A=1\n', { perms: 0o640 }))).toEqual({ outcome: 'written', onDisk: undefined });
    expect(await readFile(destination, 'utf8')).toBe('A=1\n');
    expect(statSync(destination).mode & 0o7777).toBe(0o640);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    const inode = statSync(destination).ino;
    expect((await writeAtomically(request(destination, 'A=1\n', { perms: 0o640 }))).outcome).toBe('unchanged');
    expect(statSync(destination).ino).toBe(inode);
    // A mode change alone is a change.
    expect((await writeAtomically(request(destination, 'A=1\n', { perms: 0o600 }))).outcome).toBe('written');
    expect(statSync(destination).mode & 0o7777).toBe(0o600);
    expect(readdirSync(join(dir, 'nested'))).toEqual(['app.env']);
  });

  it('sets the owner when asked', async () => {
    dir = await makeTmpfsDir();
    const destination = join(dir, 'owned');
    await writeAtomically(request(destination, 'x', { uid: 65534, gid: 65534 }));
    expect(statSync(destination)).toMatchObject({ uid: 65534, gid: 65534 });
  });

  it('refuses a destination that is not on tmpfs, unless allowed', async () => {
    dir = await makeDiskDir();
    expect((await filesystemOf(dir)).inMemory).toBe(false);
    const destination = join(dir, 'secret.env');
    await expect(writeAtomically(request(destination, 'x'))).rejects.toMatchObject({
      code: 'SIDECAR_ERR_OUTPUT_UNSAFE_DIR',
      message: expect.stringContaining('not tmpfs or ramfs') as unknown,
    });
    expect(readdirSync(dir)).toEqual([]);
    expect(await writeAtomically(request(destination, 'x', { allowNonTmpfs: true }))).toMatchObject({
      outcome: 'written',
      onDisk: expect.any(String) as unknown,
    });
  });

  it('checks the nearest existing ancestor of a directory still to be created', async () => {
    expect(await filesystemOf('/dev/shm/does/not/exist/yet')).toMatchObject({ inMemory: true, name: 'tmpfs', checked: '/dev/shm' });
    expect((await filesystemOf(join(REPO_ROOT, 'no', 'such', 'dir'))).inMemory).toBe(false);
  });

  it('fails without creating directories when create_dest_dirs is off', async () => {
    dir = await makeTmpfsDir();
    await expect(writeAtomically(request(join(dir, 'missing', 'x'), 'x', { createDirs: false }))).rejects.toMatchObject({ code: 'SIDECAR_ERR_OUTPUT_WRITE' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves no temp file and keeps the old file when the rename fails', async () => {
    dir = await makeTmpfsDir();
    const destination = join(dir, 'target');
    await writeAtomically(request(join(destination, 'inner'), 'old'));
    // The destination is a non-empty directory: rename(2) fails with EISDIR/ENOTEMPTY.
    await expect(writeAtomically(request(destination, 'new'))).rejects.toMatchObject({ code: 'SIDECAR_ERR_OUTPUT_WRITE' });
    expect(readdirSync(dir)).toEqual(['target']);
    expect(await readFile(join(destination, 'inner'), 'utf8')).toBe('old');
  });

  it('never shows a concurrent reader a partial, empty or mixed file', async () => {
    dir = await makeTmpfsDir();
    const destination = join(dir, 'rotating.conf');
    await writeAtomically(request(destination, versioned(0)));
    const reader = spawn(process.execPath, [join(REPO_ROOT, 'test/fixtures/checksum-reader.mjs'), destination], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    reader.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve) => reader.stdout.once('data', () => resolve()));
    for (let n = 1; n <= 400; n++) await writeAtomically(request(destination, versioned(n)));
    reader.stdin.end();
    await new Promise((resolve) => reader.on('close', resolve));
    const counts = JSON.parse(output.trim().split('\n').pop() ?? '{}') as { reads: number; complete: number; bad: number; missing: number };
    expect(counts.reads).toBeGreaterThan(100);
    expect(counts).toMatchObject({ bad: 0, missing: 0 });
    expect(counts.complete).toBe(counts.reads);
    expect(readdirSync(dir)).toEqual(['rotating.conf']);
  });

  it('removes temp files a killed run left behind, and nothing else', async () => {
    dir = await makeTmpfsDir();
    await writeFile(join(dir, '.app.env.sidecar-tmp-0123456789ab'), 'partial');
    await writeFile(join(dir, '.db.json.sidecar-tmp-ba9876543210'), 'partial');
    await writeFile(join(dir, '.other.sidecar-tmp-0123456789ab'), 'someone else');
    await writeFile(join(dir, 'app.env'), 'good');
    expect(await removeStaleTempFiles(dir, new Set(['app.env', 'db.json']))).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['.other.sidecar-tmp-0123456789ab', 'app.env']);
  });

  it('writes a destination whose name is as long as a name can be (255 bytes), and cleans up its temp files', async () => {
    dir = await makeTmpfsDir();
    // 255 bytes; the two-byte characters put the temp name's cut (229 bytes) inside the name, on a character.
    const name = 'é'.repeat(100) + 'n'.repeat(55);
    expect(Buffer.byteLength(name)).toBe(255);
    expect(await writeAtomically(request(join(dir, name), 'x'))).toMatchObject({ outcome: 'written' });
    expect(readdirSync(dir)).toEqual([name]);
    const stale = `.${'é'.repeat(100)}${'n'.repeat(29)}.sidecar-tmp-0123456789ab`;
    expect(Buffer.byteLength(stale)).toBe(255);
    await writeFile(join(dir, stale), 'partial');
    expect(await removeStaleTempFiles(dir, new Set([name]))).toBe(1);
    expect(readdirSync(dir)).toEqual([name]);
  });
});

describe('owner resolution', () => {
  it('resolves ids, numeric strings and names from passwd and group files', async () => {
    const d = await makeTmpfsDir();
    try {
      await writeFile(join(d, 'passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n');
      await writeFile(join(d, 'group'), 'root:x:0:\nappgrp:x:2002:\n');
      const files = { passwd: join(d, 'passwd'), group: join(d, 'group') };
      expect(await resolveOwnerId(7, 'user', files)).toBe(7);
      expect(await resolveOwnerId('42', 'user', files)).toBe(42);
      expect(await resolveOwnerId('app', 'user', files)).toBe(1001);
      expect(await resolveOwnerId('appgrp', 'group', files)).toBe(2002);
      await expect(resolveOwnerId('ghost', 'user', files)).rejects.toMatchObject({ code: 'SIDECAR_ERR_OUTPUT_OWNER' });
    } finally {
      await removeDir(d);
    }
  });
});
