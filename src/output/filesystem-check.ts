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

/**
 * The filesystem a path is (or would be created) on, checked at its nearest existing ancestor. Any other failure
 * (EACCES, ENAMETOOLONG, ELOOP) is a coded error naming the path.
 */
export async function filesystemOf(path: string, shown: string = path): Promise<FilesystemInfo> {
  let current = path;
  for (;;) {
    try {
      return describeFilesystem(Number((await statfs(current)).type), current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const parent = dirname(current);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) throw statfsError(shown, error);
      current = parent;
    }
  }
}

export function describeFilesystem(type: number, checked: string): FilesystemInfo {
  return { inMemory: MEMORY_FILESYSTEMS.has(type), name: MEMORY_FILESYSTEMS.get(type) ?? `0x${type.toString(16)}`, checked };
}

export function statfsError(path: string, cause: unknown): SidecarError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'error';
  return new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot write ${path}: cannot inspect its filesystem (${code} from statfs)`, { cause });
}

export function notInMemoryError(destination: string, fs: FilesystemInfo): SidecarError {
  return new SidecarError('SIDECAR_ERR_OUTPUT_NOT_TMPFS', `refusing to write ${destination}: ${fs.checked} is on ${fs.name}, not tmpfs or ramfs`, {
    hint: 'mount a tmpfs there (docker --tmpfs, an emptyDir with medium: Memory) or set allow_non_tmpfs = true on the template',
  });
}
