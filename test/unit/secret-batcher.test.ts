import { describe, expect, it } from 'vitest';
import { SecretBatcher, type BatchAnswer } from '../../src/backends/aws/secret-batcher.js';
import { SidecarError } from '../../src/errors.js';

const live = new AbortController().signal;

describe('secret batcher', () => {
  it('fetches what is asked for in one turn in batches of 20, once per id, and answers each caller', async () => {
    const calls: string[][] = [];
    const batcher = new SecretBatcher((ids): Promise<BatchAnswer> => {
      calls.push(ids);
      const missing = ids.filter((id) => id === 'gone');
      return Promise.resolve({
        values: ids
          .filter((id) => id !== 'gone')
          .map((id) => ({ name: id, arn: `arn:${id}`, versionId: `v-${id}`, secretString: `value-${id}`, secretBinary: undefined })),
        errors: new Map(missing.map((id) => [id, new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${id}: not found`)])),
      });
    });
    const ids = [...Array.from({ length: 44 }, (_, i) => `s${i}`), 's3', 'gone'];
    const results = await Promise.allSettled(ids.map((id) => batcher.get(id, live)));
    expect(calls.map((c) => c.length)).toEqual([20, 20, 5]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: expect.objectContaining({ versionId: 'v-s0', secretString: 'value-s0' }) as unknown });
    expect(results[44]).toEqual(results[3]);
    expect(results[45]).toMatchObject({ status: 'rejected', reason: { code: 'SIDECAR_ERR_BACKEND_NOT_FOUND' } });
  });

  it('rejects every caller of a batch that failed as a whole, and starts fresh for the next turn', async () => {
    let fail = true;
    const batcher = new SecretBatcher((ids): Promise<BatchAnswer> =>
      fail
        ? Promise.reject(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', 'throttled'))
        : Promise.resolve({ values: ids.map((id) => ({ name: id, versionId: '1', secretString: 'x', secretBinary: undefined })), errors: new Map() }),
    );
    await expect(Promise.all([batcher.get('a', live), batcher.get('b', live)])).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE' });
    fail = false;
    await expect(batcher.get('a', live)).resolves.toMatchObject({ secretString: 'x' });
  });

  it('stops waiting for a caller whose signal aborts, while the batch answers the others', async () => {
    let answer!: (value: BatchAnswer) => void;
    const batcher = new SecretBatcher(() => new Promise<BatchAnswer>((resolve) => (answer = resolve)));
    const leaving = new AbortController();
    const gone = batcher.get('a', leaving.signal);
    const staying = batcher.get('b', live);
    await new Promise((resolve) => setImmediate(resolve));
    leaving.abort(new SidecarError('SIDECAR_ERR_TIMEOUT', 'once did not finish'));
    await expect(gone).rejects.toMatchObject({ code: 'SIDECAR_ERR_TIMEOUT' });
    answer({
      values: [
        { name: 'a', versionId: '1', secretString: 'x', secretBinary: undefined },
        { name: 'b', versionId: '1', secretString: 'y', secretBinary: undefined },
      ],
      errors: new Map(),
    });
    await expect(staying).resolves.toMatchObject({ secretString: 'y' });
  });
});
