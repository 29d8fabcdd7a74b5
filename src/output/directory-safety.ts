import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';

/**
 * What is unsafe about a destination directory that others share: another user may plant or swap files in a
 * directory that is writable by others without the sticky bit, or that belongs to someone else. Nothing to say
 * of a directory that does not exist yet (it is created 0700). Symlinked directories are named too: the files
 * would land wherever the link points.
 */
export async function directoryRisks(directory: string, uid: number | undefined = process.getuid?.()): Promise<string[]> {
  const info = await lstat(directory).catch(() => undefined);
  if (!info) return [];
  return statRisks(directory, info, uid);
}

/** The same rules on a status already taken (lstat of the path, or fstat of a pinned directory). */
export function statRisks(directory: string, info: Pick<Stats, 'mode' | 'uid' | 'isSymbolicLink'>, uid: number | undefined = process.getuid?.()): string[] {
  const risks: string[] = [];
  if (info.isSymbolicLink()) risks.push(`${directory} is a symbolic link`);
  if ((info.mode & 0o002) !== 0 && (info.mode & 0o1000) === 0) risks.push(`${directory} is writable by every user and has no sticky bit`);
  if (uid !== undefined && info.uid !== uid && info.uid !== 0) risks.push(`${directory} belongs to uid ${info.uid}, not to the sidecar (uid ${uid})`);
  return risks;
}

export const UNSAFE_DIR_HINT = 'give the sidecar its own directory (mode 0700, or 1777 with the sticky bit), or set strict = false';
