import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The suite-wide leak canary: after each file, no secret its tests handled may appear in what the sidecar showed.
    setupFiles: ['test/support/canary-setup.ts'],
    // Fails the run when a process the suite started (a server, a CLI, a child) is still alive at its end.
    globalSetup: ['test/support/global-setup.ts'],
    // End-to-end tests spawn the built CLI; two cores, so keep the fan-out modest.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
