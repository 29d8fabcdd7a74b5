import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The suite-wide leak canary: after each file, no secret its tests handled may appear in what the sidecar showed.
    setupFiles: ['test/support/canary-setup.ts'],
    // End-to-end tests spawn the built CLI; two cores, so keep the fan-out modest.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
