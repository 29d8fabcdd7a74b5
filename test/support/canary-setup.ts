import { afterAll, expect } from 'vitest';
import { assertNoLeaks } from './canary.js';

// After each test file: no secret any of its tests handled may appear in anything the sidecar showed.
afterAll(() => {
  assertNoLeaks(expect.getState().testPath ?? 'test file');
});
