import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';

const BINARY = join(REPO_ROOT, '.cache', 'bin', 'hung-fuse');

/**
 * A FUSE mount whose file reads never answer (test/fixtures/hung-fuse.c): every name in it is a 64-byte regular
 * file, and a read of one blocks in the kernel, as on a hung NFS mount. `stop` aborts the mount, which fails the
 * stuck reads (ENOTCONN) so the processes holding them can end.
 */
export class HungMount {
  private constructor(
    readonly path: string,
    private readonly daemon: ChildProcess,
  ) {}

  static async start(path: string): Promise<HungMount> {
    if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run test/infra/install-test-tools.sh`);
    await mkdir(path, { recursive: true });
    const daemon = spawn(BINARY, [path, '-f'], { stdio: 'ignore' });
    const mount = new HungMount(path, daemon);
    // Mounted once /proc/mounts lists it; bounded.
    for (let i = 0; i < 100 && !mount.mounted(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    if (!mount.mounted()) {
      daemon.kill('SIGKILL');
      throw new Error(`hung-fuse did not mount ${path}`);
    }
    return mount;
  }

  mounted(): boolean {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[1] === this.path);
  }

  async stop(): Promise<void> {
    if (this.mounted()) execFileSync('fusermount3', ['-u', '-z', this.path]);
    // Its worker threads never return from read: only SIGKILL ends it, and that aborts the connection.
    if (this.daemon.exitCode === null && this.daemon.signalCode === null) {
      const exited = new Promise((resolve) => this.daemon.once('exit', resolve));
      this.daemon.kill('SIGKILL');
      await exited;
    }
  }
}
