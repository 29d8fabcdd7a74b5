import { lstatSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeAtomically, type WriteRequest } from '../../src/output/atomic-write.js';
import { filesystemOf } from '../../src/output/filesystem-check.js';
import { readPidFile } from '../../src/reload/process-signal.js';
import { removePidFile, writePidFile } from '../../src/runner/pid-file.js';
import { readBounded } from '../../src/bounded-read.js';
import { execFileSync } from 'node:child_process';
import { makeDiskDir, makeTmpfsDir, removeDir } from '../support/dirs.js';

/*
 * The destination directory is shared with the application, which may swap it for a symlink at any moment. Writes
 * pin the directory by descriptor, so a swap between the check and the write cannot redirect them.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function tmpfs(): Promise<string> {
  const d = await makeTmpfsDir();
  dirs.push(d);
  return d;
}

async function disk(): Promise<string> {
  const d = await makeDiskDir();
  dirs.push(d);
  return d;
}

function request(destination: string, contents: string | Uint8Array, extra: Partial<WriteRequest> = {}): WriteRequest {
  return { destination, contents, perms: 0o600, uid: undefined, gid: undefined, createDirs: false, allowNonTmpfs: false, ...extra };
}

/** The shared directory `out`, and a way to swap it for a symlink to `target` and back. */
async function swappable(root: string, target: string): Promise<{ out: string; flip(): void; isLink(): boolean }> {
  const out = join(root, 'out');
  await mkdir(out, { mode: 0o700 });
  await symlink(target, join(root, 'out.link'));
  const isLink = () => lstatSync(out).isSymbolicLink();
  return {
    out,
    isLink,
    flip() {
      if (isLink()) {
        renameSync(out, join(root, 'out.link'));
        renameSync(join(root, 'out.away'), out);
      } else {
        renameSync(out, join(root, 'out.away'));
        renameSync(join(root, 'out.link'), out);
      }
    },
  };
}

describe('writes into a directory swapped while running', () => {
  it('with strict, refuses (coded, not fatal) a destination directory swapped for a symlink between two writes', async () => {
    const root = await tmpfs();
    const elsewhere = await tmpfs();
    const shared = await swappable(root, elsewhere);
    const destination = join(shared.out, 'app.env');
    expect((await writeAtomically(request(destination, 'A=1\n', { strict: true }))).outcome).toBe('written');
    shared.flip();
    await expect(writeAtomically(request(destination, 'A=2\n', { strict: true }))).rejects.toMatchObject({
      code: 'SIDECAR_ERR_OUTPUT_UNSAFE_DIR',
      message: expect.stringContaining('is a symbolic link') as unknown,
    });
    expect(readdirSync(elsewhere)).toEqual([]);
    shared.flip();
    expect((await writeAtomically(request(destination, 'A=3\n', { strict: true }))).outcome).toBe('written');
    expect(readFileSync(destination, 'utf8')).toBe('A=3\n');
  });

  it('without strict, refuses a directory swapped for a symlink that leaves tmpfs, and writes bytes as they are', async () => {
    const root = await tmpfs();
    const onDisk = await disk();
    const shared = await swappable(root, onDisk);
    const destination = join(shared.out, 'keystore.p12');
    const bytes = Uint8Array.from([0x30, 0x82, 0xff, 0xfe, 0x00, 0xc3]);
    expect((await writeAtomically(request(destination, bytes))).outcome).toBe('written');
    expect([...readFileSync(destination)]).toEqual([...bytes]);
    shared.flip();
    await expect(writeAtomically(request(destination, 'secret'))).rejects.toMatchObject({
      code: 'SIDECAR_ERR_OUTPUT_UNSAFE_DIR',
      message: expect.stringContaining('not tmpfs or ramfs') as unknown,
    });
    expect(readdirSync(onDisk)).toEqual([]);
  });

  for (const strict of [false, true]) {
    it(`never lands a file on disk while the directory is swapped back and forth during writes (strict = ${strict})`, async () => {
      const root = await tmpfs();
      const onDisk = await disk();
      const shared = await swappable(root, onDisk);
      const destination = join(shared.out, 'app.env');
      // The swapper runs between every two steps of the writes (each fs call returns to the event loop).
      let swapping = true;
      let swaps = 0;
      const swapLoop = () => {
        if (!swapping) return;
        shared.flip();
        swaps++;
        setImmediate(swapLoop);
      };
      setImmediate(swapLoop);
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 400; i++) {
        const code = await writeAtomically(request(destination, `V=${i}\n`, { strict })).then(
          () => 'written',
          (error: { code?: string }) => error.code ?? 'uncoded',
        );
        outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      }
      swapping = false;
      if (shared.isLink()) shared.flip();
      expect(readdirSync(onDisk)).toEqual([]);
      expect(swaps).toBeGreaterThan(100);
      // Some writes won the race, some were refused, every refusal is a coded error the sidecar survives.
      expect(outcomes.get('written')).toBeGreaterThan(0);
      expect([...outcomes.keys()].every((code) => ['written', 'SIDECAR_ERR_OUTPUT_UNSAFE_DIR', 'SIDECAR_ERR_OUTPUT_WRITE'].includes(code))).toBe(true);
      expect(readdirSync(shared.out).filter((name) => name !== 'app.env')).toEqual([]);
    });
  }

  it('names the destination in a coded error when statfs fails (ENAMETOOLONG)', async () => {
    const root = await tmpfs();
    const long = join(root, 'x'.repeat(300), 'app.env');
    await expect(filesystemOf(join(root, 'x'.repeat(300)), long)).rejects.toMatchObject({
      code: 'SIDECAR_ERR_OUTPUT_WRITE',
      message: expect.stringMatching(/cannot write .*app\.env: cannot inspect its filesystem \(ENAMETOOLONG from statfs\)/) as unknown,
    });
    await expect(writeAtomically(request(long, 'x', { createDirs: true }))).rejects.toMatchObject({ code: 'SIDECAR_ERR_OUTPUT_WRITE' });
  });
});

describe('pid file', () => {
  it('is never written through a link planted at the temp name the old writer used, nor at the pid file', async () => {
    const root = await tmpfs();
    const victimDir = await disk();
    const victim = join(victimDir, 'victim');
    writeFileSync(victim, 'untouched\n');
    const pidFile = join(root, 'sidecar.pid');
    await symlink(victim, `${pidFile}.4242.tmp`);
    await symlink(victim, pidFile);
    await writePidFile(pidFile, 4242);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(lstatSync(pidFile).isFile()).toBe(true);
    expect(readFileSync(pidFile, 'utf8')).toBe('4242\n');
  });

  it('never waits on a FIFO planted at a pid file: removal leaves it at once, and a notify target is missing at once', async () => {
    const root = await tmpfs();
    const fifo = join(root, 'app.pid');
    execFileSync('mkfifo', [fifo]);
    // Read as a pipe, with no writer, each call would wait out the read deadline (10 s): SIGTERM would too.
    await expect(readBounded(fifo, { regularOnly: true, maxBytes: 64 })).rejects.toMatchObject({ code: 'EINVAL' });
    await removePidFile(fifo);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    await expect(readPidFile(fifo)).rejects.toMatchObject({ code: 'SIDECAR_ERR_RELOAD_TARGET_MISSING', message: expect.stringContaining('EINVAL') as unknown });
  });

  it('as a notify target, is refused when it names the sidecar itself or any of its ancestors', async () => {
    const root = await tmpfs();
    // The grandparent too: under `tini -- sh -c …` a signal to tini is passed down and ends the sidecar.
    const grandparent = Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${process.ppid}/status`, 'utf8'))?.[1]);
    expect(grandparent).toBeGreaterThan(0);
    for (const pid of [process.pid, process.ppid, grandparent]) {
      await writePidFile(join(root, 'app.pid'), pid);
      await expect(readPidFile(join(root, 'app.pid'))).rejects.toMatchObject({ code: 'SIDECAR_ERR_RELOAD_DENIED', retryable: false });
    }
  });
});
