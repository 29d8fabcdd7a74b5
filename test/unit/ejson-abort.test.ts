import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EjsonBackend } from '../../src/backends/ejson/ejson-backend.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';

let dir: string | undefined;
afterEach(async () => {
  await removeDir(dir);
  dir = undefined;
});

describe('ejson backend and its abort signal', () => {
  it('gives up a read stuck on the file when the fetch is aborted', async () => {
    dir = await makeTmpfsDir();
    const fifo = join(dir, 'secrets.ejson');
    // A FIFO with no writer: reading it blocks, as a hung network mount does.
    execFileSync('mkfifo', [fifo]);
    const backend = new EjsonBackend(
      { type: 'ejson', name: 'enc', path: fifo, keyDir: dir, keyFile: undefined, pollIntervalMs: undefined },
      {},
      createSilentLogger(),
    );
    const controller = new AbortController();
    const fetching = backend.fetch('db', { signal: controller.signal });
    controller.abort(new Error('once --timeout'));
    await expect(fetching).rejects.toThrow('once --timeout');
    // Release the abandoned read, still waiting for a writer: one that closes at once gives it end-of-file.
    await (await open(fifo, 'w')).close();
    await backend.close();
  });
});
