import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SidecarError } from '../errors.js';
import { wakeOrTimeout } from '../timer.js';
import { errnoOf, pinDirectory, writeFailure, type PinnedDirectory } from './pinned-directory.js';

export interface WriteRequest {
  readonly destination: string;
  /** Text (written as UTF-8) or bytes, written as they are. */
  readonly contents: string | Uint8Array;
  readonly perms: number;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly createDirs: boolean;
  readonly allowNonTmpfs: boolean;
  /** strict = true: the directory rules checked at start hold at every write (a symlink swapped in is refused). */
  readonly strict?: boolean | undefined;
}

export interface WriteResult {
  readonly outcome: 'written' | 'unchanged';
  /** Set when the destination is on disk and the template allowed it; the caller warns. */
  readonly onDisk: string | undefined;
}

const TEMP_MARK = '.sidecar-tmp-';

/** A name may be 255 bytes; the temp name adds the dot, the mark and 12 hex digits. */
const MAX_STEM_BYTES = 255 - 1 - TEMP_MARK.length - 12;

/** The destination's name, cut to fit a temp name on a character boundary (a 255-byte name must be writable). */
function tempStem(name: string): string {
  if (Buffer.byteLength(name) <= MAX_STEM_BYTES) return name;
  let stem = '';
  let bytes = 0;
  for (const char of name) {
    bytes += Buffer.byteLength(char);
    if (bytes > MAX_STEM_BYTES) break;
    stem += char;
  }
  return stem;
}

/** The temp file sits beside its destination (so rename is atomic) and is hidden from `*.ext` globs. */
function tempNameFor(name: string): string {
  return `.${tempStem(name)}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
}

/**
 * Writes a rendered file so that a reader only ever sees the old complete file or the new complete one:
 * temp file in the same directory, mode and owner set, fsync, rename, fsync of the directory. Nothing is written
 * when the bytes, mode and owner are already right. The destination must be on tmpfs/ramfs unless allowed.
 *
 * The directory is pinned by descriptor first and every check and step goes through it, so a directory swapped
 * for a symlink between the check and the write cannot redirect the write (a shared volume is not trusted).
 */
export async function writeAtomically(request: WriteRequest): Promise<WriteResult> {
  const { destination } = request;
  const directory = await pinDirectory(dirname(destination), { destination, create: request.createDirs, strict: request.strict ?? false });
  try {
    const fs = directory.filesystem;
    if (!fs.inMemory && !request.allowNonTmpfs) {
      // Preflight refused disk at start, so this is a directory moved, swapped or unmounted while running: an
      // error the sidecar survives (the write is retried), never one a hostile volume can use to stop it.
      throw new SidecarError('SIDECAR_ERR_OUTPUT_UNSAFE_DIR', `refusing to write ${destination}: its directory is on ${fs.name}, not tmpfs or ramfs`, {
        hint: 'keep the destination directory on tmpfs; if something replaced it with a link, restore it (the write is retried)',
      });
    }
    const onDisk = fs.inMemory ? undefined : fs.name;
    const bytes =
      typeof request.contents === 'string'
        ? Buffer.from(request.contents, 'utf8')
        : Buffer.from(request.contents.buffer, request.contents.byteOffset, request.contents.byteLength);
    const name = basename(destination);
    if (await isAlreadyInPlace(directory.at(name), bytes, request)) return { outcome: 'unchanged', onDisk };
    await writeThroughTemp(directory, name, bytes, request);
    await directory.sync();
    return { outcome: 'written', onDisk };
  } finally {
    await directory.close();
  }
}

/** Temp files that exist right now (paths through their pinned directory), and whether the process is exiting. */
const writing = new Set<string>();
let exiting = false;
const idleWaiters: Array<() => void> = [];

/**
 * At exit: refuses new writes and resolves true once the writes under way have renamed or removed their temp
 * files; after `graceMs`, removes the temp files still there and resolves false. A process that exits (a signal,
 * `once --timeout`) mid-write would otherwise leave a temp file holding part of a secret beside its destination.
 */
export async function settleWrites(graceMs: number): Promise<boolean> {
  exiting = true;
  if (writing.size === 0) return true;
  const settled = await wakeOrTimeout(idleWaiters, graceMs);
  if (!settled) for (const temp of writing) void unlink(temp).catch(() => undefined);
  return settled;
}

async function writeThroughTemp(directory: PinnedDirectory, name: string, bytes: Buffer, request: WriteRequest): Promise<void> {
  if (exiting) throw writeFailure(request.destination, 'the process is exiting');
  const temp = directory.at(tempNameFor(name));
  writing.add(temp);
  try {
    await createAndRename(temp, directory, name, bytes, request);
  } finally {
    writing.delete(temp);
    if (writing.size === 0) for (const wake of idleWaiters.splice(0)) wake();
  }
}

async function createAndRename(temp: string, directory: PinnedDirectory, name: string, bytes: Buffer, request: WriteRequest): Promise<void> {
  let handle;
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await handle.writeFile(bytes);
    if (request.uid !== undefined || request.gid !== undefined) await handle.chown(request.uid ?? -1, request.gid ?? -1);
    // chmod after chown: chown clears setuid/setgid bits, and the umask must not loosen or tighten our mode.
    await handle.chmod(request.perms);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, directory.at(name));
  } catch (cause) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw writeFailure(request.destination, errnoOf(cause), cause);
  }
}

async function isAlreadyInPlace(path: string, bytes: Buffer, request: WriteRequest): Promise<boolean> {
  // O_NOFOLLOW: a symlink planted at the destination is never "in place", and is never read through; the rename
  // that follows replaces the link itself. O_NONBLOCK: a planted FIFO cannot block the open.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!handle) return false;
  try {
    const info = await handle.stat();
    if (!info.isFile() || (info.mode & 0o7777) !== request.perms) return false;
    if (request.uid !== undefined && info.uid !== request.uid) return false;
    if (request.gid !== undefined && info.gid !== request.gid) return false;
    if (info.size !== bytes.length) return false;
    return (await handle.readFile()).equals(bytes);
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/** Removes the temp files a killed run left beside these destinations (all in one directory); returns how many. */
export async function removeStaleTempFiles(directory: string, destinationNames: ReadonlySet<string>): Promise<number> {
  const entries = await readdir(directory).catch(() => [] as string[]);
  const stems = new Set([...destinationNames].map(tempStem));
  let removed = 0;
  for (const entry of entries) {
    const mark = entry.lastIndexOf(TEMP_MARK);
    if (!entry.startsWith('.') || mark < 0 || !/^[0-9a-f]{12}$/.test(entry.slice(mark + TEMP_MARK.length))) continue;
    if (!stems.has(entry.slice(1, mark))) continue;
    await unlink(join(directory, entry)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}
