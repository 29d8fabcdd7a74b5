import { lstat, readdir, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { boundedCall, readTextBounded } from '../../bounded-read.js';
import { SidecarError } from '../../errors.js';

/** A token, a lease's data or a certificate bundle is kilobytes; anything larger was not written by us. */
export const MAX_CACHE_FILE_BYTES = 1024 * 1024;
/** statfs(2) magic numbers of tmpfs and ramfs: a cache that holds tokens and keys stays in memory. */
const IN_MEMORY = new Set([0x01021994, 0x858458f6]);
/** What atomic writes name their temp files: `.<name>.sidecar-tmp-<12 hex>`. */
const TEMP_FILE = /^\..*\.sidecar-tmp-[0-9a-f]{12}$/;

/**
 * What a cache read found. `refused`: the file (or its directory) is not ours alone, on tmpfs, as a regular file
 * of sane size; `exposed` says that others could have read what it holds (another owner, group or other bits, a
 * directory on disk), and `text` is then what it held, so that a token in it can be revoked.
 */
export type PrivateRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'ok'; readonly text: string }
  | { readonly kind: 'refused'; readonly error: SidecarError; readonly exposed: boolean; readonly text?: string | undefined };

type Verdict = { readonly ok: true } | { readonly ok: false; readonly why: string; readonly exposed: boolean };

function refused(what: string, why: string): SidecarError {
  return new SidecarError('SIDECAR_ERR_CACHE_REFUSED', `cache ${what} refused: ${why}`, {
    hint: "the cache directory must be the sidecar user's own (0700, files 0600) on tmpfs; what it held is fetched anew",
  });
}

/** Owner and mode rules, shared by the directory and its files. */
function ownership(info: { uid: number; mode: number }, mask: number): Verdict {
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) return { ok: false, why: `owned by uid ${info.uid}, not the sidecar's uid ${uid}`, exposed: true };
  if ((info.mode & mask) !== 0) return { ok: false, why: `mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')} lets others in`, exposed: true };
  return { ok: true };
}

/** The cache directory: absent (created 0700 at the first write), or private and in memory. */
export async function checkCacheDirectory(directory: string): Promise<'absent' | Verdict> {
  const info = await boundedCall(directory, 'lstat', () => lstat(directory)).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    if (info.code === 'ENOENT') return 'absent';
    return { ok: false, why: `cannot inspect it (${info.code ?? 'error'})`, exposed: false };
  }
  if (info.isSymbolicLink()) return { ok: false, why: 'it is a symbolic link', exposed: false };
  if (!info.isDirectory()) return { ok: false, why: 'it is not a directory', exposed: false };
  const verdict = ownership(info, 0o077);
  if (!verdict.ok) return verdict;
  const type = await boundedCall(directory, 'statfs', () => statfs(directory)).then(
    (fs) => Number(fs.type),
    () => -1,
  );
  if (!IN_MEMORY.has(type)) return { ok: false, why: `it is not on tmpfs or ramfs (filesystem 0x${type.toString(16)})`, exposed: true };
  return { ok: true };
}

/**
 * Reads `name` in the cache directory if it is a private regular file there. A symlink, a FIFO or a device is
 * never opened for what it points to (O_NOFOLLOW, regular files only), and a huge file is never read whole.
 */
export async function readPrivateFile(directory: string, name: string): Promise<PrivateRead> {
  const path = join(directory, name);
  const what = `file ${path}`;
  const dir = await checkCacheDirectory(directory);
  if (dir === 'absent') return { kind: 'absent' };
  const info = await boundedCall(path, 'lstat', () => lstat(path)).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    if (info.code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'refused', error: refused(what, `cannot inspect it (${info.code ?? 'error'})`), exposed: false };
  }
  const file: Verdict = info.isSymbolicLink()
    ? { ok: false, why: 'it is a symbolic link', exposed: false }
    : !info.isFile()
      ? { ok: false, why: 'it is not a regular file', exposed: false }
      : info.size > MAX_CACHE_FILE_BYTES
        ? { ok: false, why: `it is larger than ${MAX_CACHE_FILE_BYTES} bytes`, exposed: false }
        : ownership(info, 0o077);
  const verdict = !dir.ok ? { ...dir, why: `its directory ${directory}: ${dir.why}` } : file;
  const exposed = (!dir.ok && dir.exposed) || (!file.ok && file.exposed);
  // A regular file others could read is read all the same (never followed, never huge): a token in it is revoked.
  const readable = info.isFile() && !info.isSymbolicLink() && info.size <= MAX_CACHE_FILE_BYTES;
  const text = verdict.ok || (exposed && readable) ? await read(path) : undefined;
  if (verdict.ok) return text === undefined ? { kind: 'refused', error: refused(what, 'it cannot be read'), exposed: false } : { kind: 'ok', text };
  return { kind: 'refused', error: refused(what, verdict.why), exposed, text };
}

async function read(path: string): Promise<string | undefined> {
  return readTextBounded(path, { noFollow: true, regularOnly: true, maxBytes: MAX_CACHE_FILE_BYTES }).catch(() => undefined);
}

/** The coded error for a file that was read but does not hold what the cache writes. */
export function unparseable(path: string, detail: string): SidecarError {
  return refused(`file ${path}`, `it does not parse (${detail})`);
}

/** The coded error for the directory itself, when nothing may be written to it. */
export function directoryRefused(directory: string, why: string): SidecarError {
  return refused(`directory ${directory}`, why);
}

/** Removes what a killed write left (temp files, which may hold part of a token or key); the directory is ours. */
export async function removeStaleTempFiles(directory: string): Promise<void> {
  const entries = await boundedCall(directory, 'readdir', () => readdir(directory)).catch(() => [] as string[]);
  await Promise.all(entries.filter((e) => TEMP_FILE.test(e)).map((e) => unlink(join(directory, e)).catch(() => undefined)));
}

/** Removes a cache file (a lease revoked, a token dropped); gone already is fine. */
export async function removePrivateFile(directory: string, name: string): Promise<void> {
  await unlink(join(directory, name)).catch(() => undefined);
}
