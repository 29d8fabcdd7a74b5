import { statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const TMPFS_MAGIC = 0x01021994;
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** A fresh directory on a real tmpfs (/dev/shm exists on every Linux machine). */
export async function makeTmpfsDir(prefix = 'sidecar-test-'): Promise<string> {
  const dir = await mkdtemp(join('/dev/shm', prefix));
  if (statfsSync(dir).type !== TMPFS_MAGIC) throw new Error(`${dir} is not on tmpfs; these tests need /dev/shm to be tmpfs`);
  return dir;
}

/** A fresh directory on a disk filesystem (inside the repo's git-ignored .cache), asserted not to be tmpfs. */
export async function makeDiskDir(prefix = 'disk-'): Promise<string> {
  const base = join(REPO_ROOT, '.cache', 'test-disk');
  mkdirSync(base, { recursive: true });
  const dir = await mkdtemp(join(base, prefix));
  if (statfsSync(dir).type === TMPFS_MAGIC) throw new Error(`${dir} is on tmpfs; the non-tmpfs tests need a disk directory`);
  return dir;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}
