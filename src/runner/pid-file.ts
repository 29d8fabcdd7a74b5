import { readFile, rename, unlink, writeFile } from 'node:fs/promises';

/** Writes the sidecar's pid (temp file and rename, so a reader never sees an empty file). */
export async function writePidFile(path: string, pid: number = process.pid): Promise<void> {
  const temp = `${path}.${pid}.tmp`;
  await writeFile(temp, `${pid}\n`, { mode: 0o644 });
  await rename(temp, path);
}

/** Removes the pid file if it still names this process (another instance may have taken it over). */
export async function removePidFile(path: string, pid: number = process.pid): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => '');
  if (text.trim() === String(pid)) await unlink(path).catch(() => undefined);
}
