import type { ErrorCategory } from '../errors.js';

/** Process exit codes, one per failure category; the README's table is checked against this by a test. */
export const EXIT_CODES: Readonly<Record<'success' | ErrorCategory, number>> = Object.freeze({
  success: 0,
  internal: 1,
  usage: 2,
  config: 2,
  template: 2,
  backend: 3,
  render: 4,
  output: 5,
  timeout: 6,
  reload: 7,
  convert: 8,
});
