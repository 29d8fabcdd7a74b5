import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ancestry, markedProcesses, PROCESS_MARK_VARIABLE } from './leftover-processes.js';

/** How long processes being stopped as the run ends may take to go (a server's own shutdown). */
const GRACE_MS = 5_000;

/**
 * Marks every process the suite starts (workers, servers, CLIs, their children) through the environment, and
 * fails the run when any of them outlives it. The leftovers are then killed, so that one failed run does not
 * leave them for the next.
 */
export default function setup(): () => Promise<void> {
  const mark = randomUUID();
  process.env[PROCESS_MARK_VARIABLE] = mark;
  return async () => {
    const mine = ancestry();
    let left = markedProcesses(mark, mine);
    for (const deadline = Date.now() + GRACE_MS; left.length > 0 && Date.now() < deadline; left = markedProcesses(mark, mine)) await sleep(100);
    if (left.length === 0) return;
    for (const { pid } of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // vitest reports an error thrown here but still exits 0: the exit code is set as well.
    process.exitCode = 1;
    throw new Error(`processes started by the test suite outlived it (now killed):\n${left.map((p) => `  ${p.pid} ${p.command}`).join('\n')}`);
  };
}
