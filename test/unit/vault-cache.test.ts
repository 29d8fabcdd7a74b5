import { chmodSync, chownSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VaultCache } from '../../src/backends/vault/vault-cache.js';
import { MAX_CACHE_FILE_BYTES } from '../../src/backends/vault/private-file.js';
import { writeFileAtomically } from '../../src/output/write-file.js';
import { makeDiskDir, makeTmpfsDir, removeDir } from '../support/dirs.js';

let dir: string | undefined;
afterEach(async () => {
  await removeDir(dir);
  dir = undefined;
});

const MAIN = { backend: 'main', auth: '{"method":"approle","roleId":"r1"}' };
const POLICY = { fraction: 2 / 3, jitter: 0.1, marginMs: 0 };
const ENTRY = { issuedAt: 1_000_000, expiresAt: 1_000_000 + 90_000, data: { certificate: 'C', private_key: 'K' } };
const TOKEN = { token: 's.cached-token', accessor: 'acc', expiresAt: 2_000_000, renewable: true };
const LEASE = { leaseId: 'database/creds/app/x', issuedAt: 1, expiresAt: 2, renewable: true, accessor: 'acc', data: { username: 'u', password: 'p' } };

/** A cache in a fresh private directory on tmpfs, with one token, one lease and one issuance written by it. */
async function filled(): Promise<{ cache: VaultCache; dir: string; file: (prefix: string) => string }> {
  const root = await makeTmpfsDir();
  dir = root;
  const cacheDir = join(root, 'cache');
  const cache = new VaultCache(cacheDir, MAIN, writeFileAtomically, true);
  await cache.putToken(TOKEN);
  await cache.putLease('database/creds/app', LEASE);
  await cache.putIssuance('pki/issue/web?common_name=a', ENTRY);
  const file = (prefix: string) => join(cacheDir, readdirSync(cacheDir).find((n) => (prefix ? n.startsWith(prefix) : !n.includes('-'))) ?? 'none');
  return { cache, dir: cacheDir, file };
}

describe('vault cache', () => {
  it('gives back an issuance until two thirds of its validity, keyed by backend and request', async () => {
    dir = await makeTmpfsDir();
    const cache = new VaultCache(dir, MAIN, writeFileAtomically, true);
    await cache.putIssuance('pki/issue/web?common_name=a', ENTRY);
    expect((await cache.issuance('pki/issue/web?common_name=a', ENTRY.issuedAt + 59_999, POLICY)).entry).toEqual(ENTRY);
    expect((await cache.issuance('pki/issue/web?common_name=a', ENTRY.issuedAt + 60_000, POLICY)).entry).toBeUndefined();
    expect((await cache.issuance('pki/issue/web?common_name=b', ENTRY.issuedAt, POLICY)).entry).toBeUndefined();
    expect(
      (
        await new VaultCache(dir, { backend: 'other', auth: MAIN.auth }, writeFileAtomically, true).issuance(
          'pki/issue/web?common_name=a',
          ENTRY.issuedAt,
          POLICY,
        )
      ).entry,
    ).toBeUndefined();
  });

  it('keeps token and leases in 0600 files of a 0700 directory, and never in the certificates-only cache', async () => {
    const { cache, dir: cacheDir } = await filled();
    expect((await cache.token()).entry).toEqual(TOKEN);
    expect((await cache.lease('database/creds/app')).entry).toEqual(LEASE);
    // Another role's run does not adopt this token.
    expect((await new VaultCache(cacheDir, { ...MAIN, auth: '{"method":"approle","roleId":"r2"}' }, writeFileAtomically, true).token()).entry).toBeUndefined();
    expect(execFileSync('stat', ['-c', '%a', cacheDir], { encoding: 'utf8' }).trim()).toBe('700');
    for (const name of readdirSync(cacheDir)) expect(execFileSync('stat', ['-c', '%a', join(cacheDir, name)], { encoding: 'utf8' }).trim()).toBe('600');
    const certificatesOnly = new VaultCache(join(cacheDir, '..', 'certs'), MAIN, writeFileAtomically, false);
    await certificatesOnly.putToken(TOKEN);
    await certificatesOnly.putLease('database/creds/app', LEASE);
    expect((await certificatesOnly.token()).entry).toBeUndefined();
    expect(readdirSync(join(cacheDir, '..')).includes('certs')).toBe(false);
  });

  it('refuses, with SIDECAR_ERR_CACHE_REFUSED, a file changed by hand, a symlink, a FIFO, a huge file and a file of another owner', async () => {
    const { cache, file } = await filled();
    writeFileSync(file('lease-'), '{"leaseId":"x"', { mode: 0o600 });
    expect((await cache.lease('database/creds/app')).refused?.code).toBe('SIDECAR_ERR_CACHE_REFUSED');

    const tokenFile = file('token-');
    const target = join(tokenFile, '..', '..', 'elsewhere.json');
    writeFileSync(target, JSON.stringify(TOKEN), { mode: 0o600 });
    execFileSync('rm', [tokenFile]);
    symlinkSync(target, tokenFile);
    const link = await cache.token();
    expect(link.refused?.message).toContain('symbolic link');
    expect(link.exposed).toBeUndefined();

    execFileSync('rm', [tokenFile]);
    execFileSync('mkfifo', ['-m', '0600', tokenFile]);
    expect((await cache.token()).refused?.message).toContain('not a regular file');

    execFileSync('rm', [tokenFile]);
    writeFileSync(tokenFile, Buffer.alloc(MAX_CACHE_FILE_BYTES + 1, 0x20), { mode: 0o600 });
    expect((await cache.token()).refused?.message).toContain('larger than');

    const issuance = file('');
    chownSync(issuance, 4321, 4321);
    const foreign = await cache.issuance('pki/issue/web?common_name=a', ENTRY.issuedAt, POLICY);
    expect(foreign.refused?.message).toContain('owned by uid 4321');
  });

  it('marks a token file others could read as exposed, with the token to revoke, and never writes into an open directory', async () => {
    const { cache, dir: cacheDir, file } = await filled();
    chmodSync(file('token-'), 0o644);
    const read = await cache.token();
    expect(read.refused?.code).toBe('SIDECAR_ERR_CACHE_REFUSED');
    expect(read.exposed).toEqual(TOKEN);
    chmodSync(file('token-'), 0o600);
    chmodSync(cacheDir, 0o755);
    expect((await cache.token()).exposed).toEqual(TOKEN);
    await expect(cache.putToken(TOKEN)).rejects.toMatchObject({ code: 'SIDECAR_ERR_CACHE_REFUSED' });
  });

  it('removes the temp files a killed write left, at its first read', async () => {
    const { cache, dir: cacheDir } = await filled();
    const stale = join(cacheDir, '.token-abc.json.sidecar-tmp-0123456789ab');
    writeFileSync(stale, 'half a tok', { mode: 0o600 });
    await new VaultCache(cacheDir, MAIN, writeFileAtomically, true).token();
    expect(readdirSync(cacheDir)).not.toContain('.token-abc.json.sidecar-tmp-0123456789ab');
    expect((await cache.token()).entry).toEqual(TOKEN);
  });

  it('refuses a directory that is not on tmpfs: nothing is written there', async () => {
    dir = await makeDiskDir();
    const cache = new VaultCache(dir, MAIN, writeFileAtomically, true);
    await expect(cache.putIssuance('pki/issue/web', ENTRY)).rejects.toMatchObject({ code: 'SIDECAR_ERR_CACHE_REFUSED' });
    chmodSync(dir, 0o700);
    await expect(cache.putToken(TOKEN)).rejects.toMatchObject({ code: 'SIDECAR_ERR_CACHE_REFUSED' });
    expect(readdirSync(dir)).toEqual([]);
    // A token some other writer left there was on disk: refused, and handed back to be revoked.
    const onTmpfs = await makeTmpfsDir();
    try {
      await new VaultCache(onTmpfs, MAIN, writeFileAtomically, true).putToken(TOKEN);
      const [name = ''] = readdirSync(onTmpfs);
      writeFileSync(join(dir, name), readFileSync(join(onTmpfs, name)), { mode: 0o600 });
    } finally {
      await removeDir(onTmpfs);
    }
    const read = await cache.token();
    expect(read.refused?.message).toContain('not on tmpfs');
    expect(read.exposed).toEqual(TOKEN);
  });
});
