import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ancestry, markedProcesses, PROCESS_MARK_VARIABLE } from '../support/leftover-processes.js';

describe('the leftover-process check of the suite (test/support/global-setup.ts)', () => {
  it('finds a live process carrying the mark, detached and re-parented or not, and forgets it once it is gone', async () => {
    const mark = `probe-${randomUUID()}`;
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: { ...process.env, [PROCESS_MARK_VARIABLE]: mark } });
    await once(child, 'spawn');
    try {
      expect(markedProcesses(mark, ancestry())).toEqual([{ pid: child.pid, command: 'sleep 30' }]);
      // This run's own processes carry the run's mark, not the probe's.
      expect(markedProcesses(mark, new Set()).map((p) => p.pid)).toEqual([child.pid]);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    expect(markedProcesses(mark, ancestry())).toEqual([]);
  });

  it('marks the processes of this run: the worker running this test carries the mark', () => {
    const mark = process.env[PROCESS_MARK_VARIABLE];
    expect(mark).toMatch(/^[0-9a-f-]{36}$/);
    expect(markedProcesses(mark ?? '', new Set()).map((p) => p.pid)).toContain(process.pid);
  });
});
