import { constants, close, fstat, open, read, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { setSafeTimeout, wakeOrTimeout } from './timer.js';

/*
 * Reads of local files (config, templates, local secret sources, pid files) that cannot hang the process.
 *
 * A read stuck in the kernel (a hung NFS or FUSE mount) holds one of libuv's four pool threads until the kernel
 * answers, and Node cannot exit while one is held. So: every read has a deadline; reads of regular files run at
 * most POOL_READ_SLOTS at a time and one per directory, so stuck ones can never take the whole pool (writes,
 * statfs and probes keep working); pipes are opened O_NONBLOCK and read through the event loop, holding no pool
 * thread at all; and the CLI asks `settleReads()` at exit to know whether it must end itself with a signal.
 */

/** How long one read (or stat) of a local file may take before it fails, retryable, with ETIMEDOUT. */
export const READ_DEADLINE_MS = 10_000;
/** Pool threads reads may hold at once; libuv has 4, and writes, statfs and DNS need the rest. */
export const POOL_READ_SLOTS = 2;
/** Larger sources are refused (EFBIG): a secrets file or a template is kilobytes. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

export interface BoundedReadOptions {
  readonly deadlineMs?: number;
  readonly maxBytes?: number;
  /** Refuse a symbolic link at the last component (ELOOP) instead of following it. */
  readonly noFollow?: boolean;
  /** Refuse a FIFO or socket (EINVAL) instead of reading it: for files only ever written whole (pid files). */
  readonly regularOnly?: boolean;
}

export type BoundedReadError = Error & { code: string; syscall: string; path: string };

function readError(code: string, path: string, syscall: string, message: string): BoundedReadError {
  return Object.assign(new Error(`${code}: ${message}, ${syscall} '${path}'`), { code, syscall, path });
}

const openFd = promisify(open);
const fstatFd = promisify(fstat);
const closeFd = promisify(close);
const readFd = promisify(read);

/** Slots handed over in order; a waiter whose deadline passed is skipped. */
class Gate {
  busy = 0;
  readonly queue: Array<() => void> = [];
  constructor(private readonly size: number) {}

  enter(deadline: AbortSignal): Promise<void> {
    if (this.busy < this.size) {
      this.busy++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const granted = () => {
        deadline.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.queue.splice(this.queue.indexOf(granted), 1);
        reject(deadline.reason as Error);
      };
      this.queue.push(granted);
      deadline.addEventListener('abort', onAbort, { once: true });
    });
  }

  leave(): void {
    const next = this.queue.shift();
    if (next) return next();
    this.busy--;
  }
}

const pool = new Gate(POOL_READ_SLOTS);
/**
 * One read at a time per directory: a hung mount hangs every file under it, so a second read there would only
 * take a second thread. Reads elsewhere keep their slots.
 */
const directories = new Map<string, Gate>();
let stuck = 0;
const idleWaiters: Array<() => void> = [];

/** Pool operations still in the kernel past their deadline. */
export function blockedOperations(): number {
  return stuck;
}

/** Pool reads in the kernel right now (past their deadline or not): Node's exit waits for each of them. */
export function readsInKernel(): number {
  return pool.busy;
}

/** Resolves when no read is in the kernel, or after `graceMs`, whichever comes first; tells which. */
export function settleReads(graceMs: number): Promise<boolean> {
  if (pool.busy === 0) return Promise.resolve(true);
  return wakeOrTimeout(idleWaiters, graceMs);
}

/** How many pool slots are in use, and how many reads wait for one (for tests). */
export function poolReadUsage(): { busy: number; waiting: number } {
  let waiting = pool.queue.length;
  for (const gate of directories.values()) waiting += gate.queue.length;
  return { busy: pool.busy, waiting };
}

function directoryGate(path: string): { gate: Gate; release: () => void } {
  const key = dirname(path);
  let gate = directories.get(key);
  if (!gate) directories.set(key, (gate = new Gate(1)));
  const entered = gate;
  return {
    gate,
    release: () => {
      entered.leave();
      if (entered.busy === 0 && directories.get(key) === entered) directories.delete(key);
    },
  };
}

/**
 * Runs `operation` (a few fs calls on the pool) in one of the read slots, one per directory at a time, under a
 * deadline that covers the wait for a slot too. Past the deadline it rejects with ETIMEDOUT; the slots stay taken
 * until the kernel answers. `operation` is told when it was abandoned, so it can release what it opened.
 */
export async function runBounded<T>(
  path: string,
  syscall: string,
  operation: (abandoned: () => boolean) => Promise<T>,
  deadlineMs = READ_DEADLINE_MS,
): Promise<T> {
  const controller = new AbortController();
  let started = false;
  const timer = setSafeTimeout(() => {
    const why = started
      ? `no answer within ${deadlineMs} ms`
      : `no free reader within ${deadlineMs} ms (reads in this directory or ${pool.busy} others are stuck)`;
    controller.abort(readError('ETIMEDOUT', path, syscall, why));
  }, deadlineMs);
  const directory = directoryGate(path);
  try {
    await directory.gate.enter(controller.signal);
  } catch (error) {
    timer.clear();
    throw error;
  }
  try {
    await pool.enter(controller.signal);
  } catch (error) {
    directory.release();
    timer.clear();
    throw error;
  }
  started = true;
  const running = operation(() => controller.signal.aborted);
  const released = running
    .then(
      () => undefined,
      () => undefined,
    )
    .then(() => {
      pool.leave();
      directory.release();
      if (controller.signal.aborted) stuck--;
      if (pool.busy === 0) for (const wake of idleWaiters.splice(0)) wake();
    });
  void released;
  const abandoned = new Promise<never>((_, reject) => {
    controller.signal.addEventListener(
      'abort',
      () => {
        stuck++;
        reject(controller.signal.reason as Error);
      },
      { once: true },
    );
  });
  try {
    return await Promise.race([running, abandoned]);
  } finally {
    timer.clear();
  }
}

/** stat, lstat, realpath and the like, bounded like a read. */
export function boundedCall<T>(path: string, syscall: string, call: () => Promise<T>, deadlineMs = READ_DEADLINE_MS): Promise<T> {
  return runBounded(path, syscall, call, deadlineMs);
}

type Opened = { kind: 'data'; data: Buffer } | { kind: 'pipe'; fd: number };

/** Reads a whole file under a deadline; see the module comment. Errors carry an errno-like `code`. */
export async function readBounded(path: string, options: BoundedReadOptions = {}): Promise<Buffer> {
  const deadlineMs = options.deadlineMs ?? READ_DEADLINE_MS;
  const maxBytes = options.maxBytes ?? MAX_READ_BYTES;
  const startedAt = Date.now();
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (options.noFollow ? constants.O_NOFOLLOW : 0);
  const opened = await runBounded<Opened>(
    path,
    'read',
    async (abandoned) => {
      const fd = await openFd(path, flags);
      let keep = false;
      try {
        if (abandoned()) throw readError('ETIMEDOUT', path, 'open', 'answered after its deadline');
        const info = await fstatFd(fd);
        checkKind(info, path);
        if (options.regularOnly && !info.isFile()) throw readError('EINVAL', path, 'read', 'not a regular file');
        if (info.isFIFO() || info.isSocket()) {
          keep = true;
          return { kind: 'pipe', fd };
        }
        return { kind: 'data', data: await readRegular(fd, path, maxBytes, abandoned) };
      } finally {
        if (!keep || abandoned()) await closeFd(fd).catch(() => undefined);
      }
    },
    deadlineMs,
  );
  if (opened.kind === 'data') return opened.data;
  return readPipe(opened.fd, path, maxBytes, Math.max(1, deadlineMs - (Date.now() - startedAt)));
}

/** readBounded, decoded as UTF-8. */
export async function readTextBounded(path: string, options: BoundedReadOptions = {}): Promise<string> {
  return (await readBounded(path, options)).toString('utf8');
}

function checkKind(info: Stats, path: string): void {
  if (info.isDirectory()) throw readError('EISDIR', path, 'read', 'is a directory');
  if (!info.isFile() && !info.isFIFO() && !info.isSocket()) throw readError('EINVAL', path, 'read', 'not a regular file or a pipe');
}

async function readRegular(fd: number, path: string, maxBytes: number, abandoned: () => boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await readFd(fd, chunk, 0, chunk.length, null);
    if (bytesRead === 0 || abandoned()) break;
    total += bytesRead;
    if (total > maxBytes) throw readError('EFBIG', path, 'read', `larger than ${maxBytes} bytes`);
    chunks.push(chunk.subarray(0, bytesRead));
  }
  return Buffer.concat(chunks, total);
}

/** A FIFO or socket, read through the event loop (epoll): a writer that never writes holds no thread. */
function readPipe(fd: number, path: string, maxBytes: number, deadlineMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    let total = 0;
    const fail = (error: Error) => {
      timer.clear();
      socket.destroy();
      reject(error);
    };
    const timer = setSafeTimeout(() => fail(readError('ETIMEDOUT', path, 'read', `no answer within ${deadlineMs} ms`)), deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) fail(readError('EFBIG', path, 'read', `larger than ${maxBytes} bytes`));
      else chunks.push(chunk);
    });
    socket.on('error', (error) => fail(error));
    socket.on('end', () => {
      timer.clear();
      socket.destroy();
      resolve(Buffer.concat(chunks, total));
    });
  });
}
