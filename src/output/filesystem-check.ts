import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SidecarError } from '../errors.js';

/** statfs(2) magic numbers of the in-memory filesystems (linux/magic.h). */
const MEMORY_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
]);

export interface FilesystemInfo {
  readonly inMemory: boolean;
  /** "tmpfs", "ramfs", or the magic number in hex for anything else. */
  readonly name: string;
  /** The directory that was actually checked (the nearest existing ancestor). */
  readonly checked: string;
}

/** The filesystem a path is (or would be created) on, checked at its nearest existing ancestor. */
export async function filesystemOf(path: string): Promise<FilesystemInfo> {
  let current = path;
  for (;;) {
    try {
      const info = await statfs(current);
      const name = MEMORY_FILESYSTEMS.get(Number(info.type)) ?? `0x${Number(info.type).toString(16)}`;
      return { inMemory: MEMORY_FILESYSTEMS.has(Number(info.type)), name, checked: current };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const parent = dirname(current);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) throw error;
      current = parent;
    }
  }
}

/** The filesystem a destination will be written on; refuses disk unless the template allows it. */
export async function checkDestinationFilesystem(destination: string, allowNonTmpfs: boolean): Promise<FilesystemInfo> {
  const fs = await filesystemOf(dirname(destination)).catch((cause: unknown) => {
    throw new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot write ${destination}: cannot inspect its filesystem`, { cause });
  });
  if (!fs.inMemory && !allowNonTmpfs) throw notInMemoryError(destination, fs);
  return fs;
}

export function notInMemoryError(destination: string, fs: FilesystemInfo): SidecarError {
  return new SidecarError('SIDECAR_ERR_OUTPUT_NOT_TMPFS', `refusing to write ${destination}: ${fs.checked} is on ${fs.name}, not tmpfs or ramfs`, {
    hint: 'mount a tmpfs there (docker --tmpfs, an emptyDir with medium: Memory) or set allow_non_tmpfs = true on the template',
  });
}
