import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, statfs, type FileHandle } from 'node:fs/promises';
import { SidecarError } from '../errors.js';
import { UNSAFE_DIR_HINT, statRisks } from './directory-safety.js';
import { describeFilesystem, statfsError, type FilesystemInfo } from './filesystem-check.js';

/**
 * A destination directory held open by file descriptor, so that every check and every file operation applies to
 * the same directory even if its path is swapped for a symlink meanwhile. Node has no openat(2); paths under
 * /proc/self/fd/<fd>/ resolve against the open directory, which gives the same guarantee.
 */
export interface PinnedDirectory {
  /** A path that resolves to `name` inside the pinned directory. */
  at(name: string): string;
  readonly filesystem: FilesystemInfo;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface PinOptions {
  readonly destination: string;
  readonly create: boolean;
  /** strict = true: the directory itself must not be a symlink, and must pass the start-up rules. */
  readonly strict: boolean;
}

export async function pinDirectory(directory: string, options: PinOptions): Promise<PinnedDirectory> {
  const handle = await openDirectory(directory, options);
  try {
    const info = await handle.stat();
    if (!info.isDirectory()) throw new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot write ${options.destination}: ${directory} is not a directory`);
    if (options.strict) refuseRisks(directory, info);
    const base = `/proc/self/fd/${handle.fd}`;
    const type = await statfs(base).catch((cause: unknown) => {
      throw statfsError(options.destination, cause);
    });
    return {
      at: (name) => `${base}/${name}`,
      filesystem: describeFilesystem(Number(type.type), directory),
      sync: () => handle.sync().catch(() => undefined),
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function openDirectory(directory: string, options: PinOptions): Promise<FileHandle> {
  const flags = constants.O_RDONLY | constants.O_DIRECTORY | (options.strict ? constants.O_NOFOLLOW : 0);
  try {
    return await open(directory, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && options.create) {
      await mkdir(directory, { recursive: true, mode: 0o700 }).catch((cause: unknown) => {
        throw writeFailure(options.destination, `cannot create ${directory}: ${errnoOf(cause)}`, cause);
      });
      return open(directory, flags).catch((cause: unknown) => {
        throw writeFailure(options.destination, errnoOf(cause), cause);
      });
    }
    if (code === 'ENOENT') throw writeFailure(options.destination, `directory ${directory} does not exist (create_dest_dirs is false)`);
    // O_NOFOLLOW|O_DIRECTORY on a symlink fails ENOTDIR (or ELOOP): say which.
    if (options.strict && (code === 'ENOTDIR' || code === 'ELOOP')) {
      const info = await lstat(directory).catch(() => undefined);
      if (info?.isSymbolicLink()) refuseRisks(directory, info);
    }
    if (code === 'ENOTDIR') throw writeFailure(options.destination, `${directory} is not a directory`, error);
    throw writeFailure(options.destination, errnoOf(error), error);
  }
}

function refuseRisks(directory: string, info: Pick<Stats, 'mode' | 'uid' | 'isSymbolicLink'>): void {
  const risks = statRisks(directory, info);
  if (risks.length > 0) {
    throw new SidecarError('SIDECAR_ERR_OUTPUT_UNSAFE_DIR', `a destination directory others could tamper with: ${risks.join('; ')}`, { hint: UNSAFE_DIR_HINT });
  }
}

export function errnoOf(cause: unknown): string {
  const error = cause as NodeJS.ErrnoException;
  return error.code ? `${error.code} (${error.syscall ?? 'io'})` : 'write failed';
}

export function writeFailure(destination: string, why: string, cause?: unknown): SidecarError {
  return new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot write ${destination}: ${why}`, cause === undefined ? {} : { cause });
}
