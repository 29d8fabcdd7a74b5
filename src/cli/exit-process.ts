import { readsInKernel, settleReads } from '../bounded-read.js';
import { settleWrites } from '../output/atomic-write.js';

/** The signal the process ends itself with when a read is stuck in the kernel (status 137 to a shell or kubelet). */
export const STUCK_EXIT_SIGNAL = 'SIGKILL';
/** How long reads still in the kernel at exit get to finish; a healthy read takes microseconds. */
const EXIT_GRACE_MS = 500;
/** How long writes under way at exit get to finish before their temp files are removed. */
const WRITE_GRACE_MS = 2_000;

/**
 * Exits with `code`. Node joins its thread pool at exit, so while a read is stuck in the kernel (a hung NFS or
 * FUSE mount) process.exit() never returns: then the process says so on stderr and ends itself with SIGKILL.
 */
export async function exitProcess(code: number, stderr: NodeJS.WritableStream = process.stderr): Promise<void> {
  // A write on tmpfs takes milliseconds: let the ones under way rename (or remove) their temp files first.
  await settleWrites(WRITE_GRACE_MS);
  if (await settleReads(EXIT_GRACE_MS)) process.exit(code);
  const stuck = readsInKernel();
  // stderr is synchronous on Linux for files, pipes and terminals: this line is out before the signal.
  stderr.write(
    `${JSON.stringify({ level: 'error', time: new Date().toISOString(), pid: process.pid, blockedReads: stuck, exitCode: code, msg: `${stuck} file reads are stuck in the kernel and Node cannot exit past them; ending with ${STUCK_EXIT_SIGNAL} instead of exit code ${code}` })}\n`,
  );
  process.kill(process.pid, STUCK_EXIT_SIGNAL);
}
