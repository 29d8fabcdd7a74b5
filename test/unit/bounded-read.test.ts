import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, open, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { POOL_READ_SLOTS, blockedOperations, poolReadUsage, readBounded, runBounded } from '../../src/bounded-read.js';
import { writeAtomically } from '../../src/output/atomic-write.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';

let dir: string | undefined;
/** Writer ends held open by a test, closed after it. */
const writers: number[] = [];
/** FIFOs a test may leave with a blocked reader (a failed assertion skips its own release). */
const blocking: string[] = [];
afterEach(async () => {
  releaseBlockedReaders(blocking.splice(0));
  for (const fd of writers.splice(0)) closeSync(fd);
  await removeDir(dir);
  dir = undefined;
});

function fifo(path: string): string {
  execFileSync('mkfifo', [path]);
  blocking.push(path);
  return path;
}

/** Opens a FIFO's write end without blocking (a reader is there, or O_RDWR makes us one) and keeps it open. */
function holdWriter(path: string): void {
  writers.push(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
}

/** Ends the blocking opens waiting on these FIFOs: a writer comes and goes, so each reader sees end of file. */
function releaseBlockedReaders(paths: readonly string[]): void {
  for (const path of paths) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: nobody is blocked on this one (its read never started).
    }
  }
}

describe('bounded read', () => {
  it('reads a regular file, and refuses a directory, a file over the limit and (with noFollow) a symlink', async () => {
    dir = await makeTmpfsDir();
    await writeFile(join(dir, 'a.txt'), 'hello');
    expect((await readBounded(join(dir, 'a.txt'))).toString()).toBe('hello');
    await mkdir(join(dir, 'sub'));
    await expect(readBounded(join(dir, 'sub'))).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(readBounded(join(dir, 'a.txt'), { maxBytes: 4 })).rejects.toMatchObject({ code: 'EFBIG' });
    await symlink(join(dir, 'a.txt'), join(dir, 'link'));
    await expect(readBounded(join(dir, 'link'), { noFollow: true })).rejects.toMatchObject({ code: 'ELOOP' });
    expect((await readBounded(join(dir, 'link'))).toString()).toBe('hello');
  });

  it('reads a FIFO through the event loop: what a writer sends, and a writer that never writes only until the deadline', async () => {
    dir = await makeTmpfsDir();
    const silent = fifo(join(dir, 'silent'));
    holdWriter(silent);
    await expect(readBounded(silent, { deadlineMs: 300 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    // No pool thread was held: nothing is stuck, and no slot is taken.
    expect(blockedOperations()).toBe(0);
    expect(poolReadUsage()).toEqual({ busy: 0, waiting: 0 });
    const talking = fifo(join(dir, 'talking'));
    const reading = readBounded(talking, { deadlineMs: 10_000 });
    // Opening for writing waits (on the pool) until the reader has opened its end.
    const writer = await open(talking, 'w');
    await writer.write('from a pipe');
    await writer.close();
    expect((await reading).toString()).toBe('from a pipe');
  });

  it('lets stuck reads take at most its slots of the thread pool, so writes and stats still run past five of them', async () => {
    dir = await makeTmpfsDir();
    // A blocking open of a FIFO with no writer is a read stuck in the kernel, as on a hung NFS mount: it holds a
    // libuv pool thread until a writer comes.
    // Each in its own directory: reads in one directory take one slot at a time.
    const stuckPaths = await Promise.all(
      [1, 2, 3, 4, 5].map(async (n) => {
        await mkdir(join(dir ?? '', `mount-${n}`));
        return fifo(join(dir ?? '', `mount-${n}`, 'hung'));
      }),
    );
    const reads = stuckPaths.map((path) => runBounded(path, 'read', () => readFile(path), 1_000));
    const settled = Promise.allSettled(reads);
    await expect.poll(() => poolReadUsage()).toEqual({ busy: POOL_READ_SLOTS, waiting: 5 - POOL_READ_SLOTS });
    // With five pool reads stuck (libuv has four threads), these would queue forever behind them.
    expect(
      (
        await writeAtomically({
          destination: join(dir, 'out', 'app.env'),
          contents: 'A=1\n',
          perms: 0o600,
          uid: undefined,
          gid: undefined,
          createDirs: true,
          allowNonTmpfs: false,
        })
      ).outcome,
    ).toBe('written');
    expect((await stat(join(dir, 'out', 'app.env'))).size).toBe(4);
    const results = await settled;
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'read'));
    expect(reasons.filter((m) => m.includes('no answer within'))).toHaveLength(POOL_READ_SLOTS);
    expect(reasons.filter((m) => m.includes('no free reader within'))).toHaveLength(5 - POOL_READ_SLOTS);
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'ETIMEDOUT')).toBe(true);
    // The abandoned reads are still in the kernel: the CLI must not try a normal exit now.
    expect(blockedOperations()).toBe(POOL_READ_SLOTS);
    releaseBlockedReaders(stuckPaths);
    await expect.poll(() => blockedOperations()).toBe(0);
    expect(poolReadUsage()).toEqual({ busy: 0, waiting: 0 });
  });

  it('holds one stuck read per directory, so a hung directory does not starve reads elsewhere', async () => {
    dir = await makeTmpfsDir();
    await mkdir(join(dir, 'hung'));
    const stuckPaths = [1, 2, 3].map((n) => fifo(join(dir ?? '', 'hung', `s${n}`)));
    const reads = Promise.allSettled(stuckPaths.map((path) => runBounded(path, 'read', () => readFile(path), 1_000)));
    await expect.poll(() => poolReadUsage()).toEqual({ busy: 1, waiting: 2 });
    await writeFile(join(dir, 'healthy.json'), '{"ok":true}');
    expect((await readBounded(join(dir, 'healthy.json'))).toString()).toBe('{"ok":true}');
    const results = await reads;
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'ETIMEDOUT')).toBe(true);
    releaseBlockedReaders(stuckPaths);
    await expect.poll(() => blockedOperations()).toBe(0);
  });
});
