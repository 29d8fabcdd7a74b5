import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { IssuanceCache } from '../../src/backends/vault/issuance-cache.js';
import { writeFileAtomically } from '../../src/output/write-file.js';
import { makeDiskDir, makeTmpfsDir, removeDir } from '../support/dirs.js';

let dir: string | undefined;
afterEach(async () => {
  await removeDir(dir);
  dir = undefined;
});

const POLICY = { fraction: 2 / 3, jitter: 0.1, marginMs: 0 };
const ENTRY = { issuedAt: 1_000_000, expiresAt: 1_000_000 + 90_000, data: { certificate: 'C', private_key: 'K' } };

describe('issuance cache', () => {
  it('gives back an issuance until two thirds of its validity, keyed by backend and request', async () => {
    dir = await makeTmpfsDir();
    const cache = new IssuanceCache(dir, 'main', writeFileAtomically);
    await cache.put('pki/issue/web?common_name=a', ENTRY);
    expect(await cache.get('pki/issue/web?common_name=a', ENTRY.issuedAt + 59_999, POLICY)).toEqual(ENTRY);
    expect(await cache.get('pki/issue/web?common_name=a', ENTRY.issuedAt + 60_000, POLICY)).toBeUndefined();
    expect(await cache.get('pki/issue/web?common_name=b', ENTRY.issuedAt, POLICY)).toBeUndefined();
    expect(await new IssuanceCache(dir, 'other', writeFileAtomically).get('pki/issue/web?common_name=a', ENTRY.issuedAt, POLICY)).toBeUndefined();
  });

  it('refuses a directory that is not on tmpfs: it would put private keys on disk', async () => {
    dir = await makeDiskDir();
    await expect(new IssuanceCache(dir, 'main', writeFileAtomically).put('pki/issue/web', ENTRY)).rejects.toMatchObject({
      code: 'SIDECAR_ERR_OUTPUT_UNSAFE_DIR',
    });
    expect(readdirSync(dir)).toEqual([]);
  });
});
