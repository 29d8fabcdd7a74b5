import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SidecarError } from '../errors.js';
import { checkDestinationFilesystem } from './filesystem-check.js';

export interface WriteRequest {
  readonly destination: string;
  /** Text (written as UTF-8) or bytes (written as they are). */
  readonly contents: string | Uint8Array;
  readonly perms: number;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly createDirs: boolean;
  readonly allowNonTmpfs: boolean;
}

export interface WriteResult {
  readonly outcome: 'written' | 'unchanged';
  /** Set when the destination is on disk and the template allowed it; the caller warns. */
  readonly onDisk: string | undefined;
}

const TEMP_MARK = '.sidecar-tmp-';

/** The temp file sits beside its destination (so rename is atomic) and is hidden from `*.ext` globs. */
function tempPathFor(destination: string): string {
  return join(dirname(destination), `.${basename(destination)}${TEMP_MARK}${randomBytes(6).toString('hex')}`);
}

/**
 * Writes a rendered file so that a reader only ever sees the old complete file or the new complete one:
 * temp file in the same directory, mode and owner set, fsync, rename, fsync of the directory. Nothing is written
 * when the bytes, mode and owner are already right. The destination must be on tmpfs/ramfs unless allowed.
 */
export async function writeAtomically(request: WriteRequest): Promise<WriteResult> {
  const { destination } = request;
  const directory = dirname(destination);
  const fs = await checkDestinationFilesystem(destination, request.allowNonTmpfs);
  await ensureDirectory(directory, request.createDirs, destination);
  if (await isAlreadyInPlace(request)) return { outcome: 'unchanged', onDisk: fs.inMemory ? undefined : fs.name };

  const temp = tempPathFor(destination);
  let handle;
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await handle.writeFile(request.contents);
    if (request.uid !== undefined || request.gid !== undefined) await handle.chown(request.uid ?? -1, request.gid ?? -1);
    // chmod after chown: chown clears setuid/setgid bits, and the umask must not loosen or tighten our mode.
    await handle.chmod(request.perms);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, destination);
  } catch (cause) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw writeError(destination, describeErrno(cause), cause);
  }
  await syncDirectory(directory);
  return { outcome: 'written', onDisk: fs.inMemory ? undefined : fs.name };
}

async function ensureDirectory(directory: string, create: boolean, destination: string): Promise<void> {
  try {
    const info = await stat(directory);
    if (!info.isDirectory()) throw writeError(destination, `${directory} is not a directory`);
  } catch (error) {
    if (error instanceof SidecarError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw writeError(destination, describeErrno(error), error);
    if (!create) throw writeError(destination, `directory ${directory} does not exist (create_dest_dirs is false)`);
    await mkdir(directory, { recursive: true, mode: 0o700 }).catch((cause: unknown) => {
      throw writeError(destination, `cannot create ${directory}: ${describeErrno(cause)}`, cause);
    });
  }
}

async function isAlreadyInPlace(request: WriteRequest): Promise<boolean> {
  // O_NOFOLLOW: a symlink planted at the destination is never "in place", and is never read through; the rename
  // that follows replaces the link itself.
  const handle = await open(request.destination, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!handle) return false;
  try {
    const info = await handle.stat();
    if (!info.isFile() || (info.mode & 0o7777) !== request.perms) return false;
    if (request.uid !== undefined && info.uid !== request.uid) return false;
    if (request.gid !== undefined && info.gid !== request.gid) return false;
    const wanted = typeof request.contents === 'string' ? Buffer.from(request.contents, 'utf8') : request.contents;
    if (info.size !== wanted.length) return false;
    return (await handle.readFile()).equals(wanted);
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/** Makes the rename durable on disk-backed filesystems; a no-op cost on tmpfs. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/** Removes the temp files a killed run left beside these destinations (all in one directory); returns how many. */
export async function removeStaleTempFiles(directory: string, destinationNames: ReadonlySet<string>): Promise<number> {
  const entries = await readdir(directory).catch(() => [] as string[]);
  let removed = 0;
  for (const entry of entries) {
    const mark = entry.lastIndexOf(TEMP_MARK);
    if (!entry.startsWith('.') || mark < 0 || !/^[0-9a-f]{12}$/.test(entry.slice(mark + TEMP_MARK.length))) continue;
    if (!destinationNames.has(entry.slice(1, mark))) continue;
    await unlink(join(directory, entry)).then(() => removed++, () => undefined);
  }
  return removed;
}

function describeErrno(cause: unknown): string {
  const error = cause as NodeJS.ErrnoException;
  return error.code ? `${error.code} (${error.syscall ?? 'io'})` : 'write failed';
}

function writeError(destination: string, why: string, cause?: unknown): SidecarError {
  return new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot write ${destination}: ${why}`, cause === undefined ? {} : { cause });
}
