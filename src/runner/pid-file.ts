import { unlink } from 'node:fs/promises';
import { readTextBounded } from '../bounded-read.js';
import { writeAtomically } from '../output/atomic-write.js';

/**
 * Writes the sidecar's pid the way destinations are written (random temp name opened O_EXCL|O_NOFOLLOW in the
 * pinned directory, then rename), so a link planted beside or at the pid file is never written through. Pid files
 * commonly live on disk (/var/run, /run on some hosts): disk is allowed, and the pid is no secret.
 */
export async function writePidFile(path: string, pid: number = process.pid): Promise<void> {
  await writeAtomically({ destination: path, contents: `${pid}\n`, perms: 0o644, uid: undefined, gid: undefined, createDirs: false, allowNonTmpfs: true });
}

/** Removes the pid file if it still names this process (another instance may have taken it over). */
export async function removePidFile(path: string, pid: number = process.pid): Promise<void> {
  // regularOnly: a FIFO planted there would hold shutdown for the whole read deadline.
  const text = await readTextBounded(path, { noFollow: true, regularOnly: true, maxBytes: 64 }).catch(() => '');
  if (text.trim() === String(pid)) await unlink(path).catch(() => undefined);
}
