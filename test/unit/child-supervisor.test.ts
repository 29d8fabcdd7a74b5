import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecConfig } from '../../src/config/types.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { ChildSupervisor } from '../../src/reload/child-supervisor.js';
import { REPO_ROOT } from '../support/dirs.js';

const APP = join(REPO_ROOT, 'test/fixtures/signal-recorder.mjs');
let supervisor: ChildSupervisor | undefined;
afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

function exec(overrides: Partial<ExecConfig>): ExecConfig {
  return {
    command: [process.execPath, APP],
    reloadSignal: 'SIGUSR1',
    killSignal: 'SIGTERM',
    killTimeoutMs: 5000,
    splayMs: 0,
    restart: 'never',
    env: { pristine: false, allow: [], deny: [] },
    ...overrides,
  };
}

/** The pid of a child just started (spawn assigns it synchronously). */
function pidOf(s: ChildSupervisor): number {
  expect(s.pid).toBeDefined();
  return s.pid ?? -1;
}

describe('child supervisor', () => {
  it('delays a reload signal by the splay times the random draw', async () => {
    supervisor = new ChildSupervisor({
      exec: exec({ splayMs: 400 }),
      environment: () => ({ PATH: process.env.PATH ?? '' }),
      logger: createSilentLogger(),
      random: () => 0.99,
    });
    supervisor.start();
    const pid = pidOf(supervisor);
    const before = performance.now();
    expect(await supervisor.reload()).toBe(`SIGUSR1 to child ${pid}`);
    // A lower bound only: the draw of 0.99 must have held the signal back by 0.99 × 400 ms (timers may fire up
    // to a millisecond early against performance.now, hence the margin).
    expect(performance.now() - before).toBeGreaterThanOrEqual(390);
  });

  it('reports nothing to reload before the child runs, and restarts it when there is no reload signal', async () => {
    supervisor = new ChildSupervisor({
      exec: exec({ reloadSignal: undefined }),
      environment: () => ({ PATH: process.env.PATH ?? '' }),
      logger: createSilentLogger(),
      random: () => 0,
    });
    expect(await supervisor.reload()).toBe('child not running; nothing to reload');
    supervisor.start();
    const first = pidOf(supervisor);
    const detail = await supervisor.restart();
    expect(detail).toMatch(new RegExp(`^restarted child ${first} as \\d+$`));
    expect(supervisor.pid).not.toBe(first);
    expect(() => process.kill(first, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }) as Error);
  });
});
