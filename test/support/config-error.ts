import { expect } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { SidecarError } from '../../src/errors.js';

/** The coded error the real loader refuses `source` with (as the file `file`); fails the test if it loads. */
export async function configError(source: string, file: string): Promise<SidecarError> {
  const error = await parseConfig(source, file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SidecarError);
  return error as SidecarError;
}
