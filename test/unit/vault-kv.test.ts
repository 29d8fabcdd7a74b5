import { describe, expect, it } from 'vitest';
import { MountCache, kvReadPath, type MountInfo } from '../../src/backends/vault/kv-mounts.js';
import { vaultError } from '../../src/backends/vault/vault-errors.js';
import { parseRetryAfter, VaultHttpError } from '../../src/backends/vault/vault-http.js';

const KV2: MountInfo = { path: 'secret/', type: 'kv', version: '2' };
const KV1: MountInfo = { path: 'kv1/', type: 'kv', version: '1' };
const DB: MountInfo = { path: 'database/', type: 'database', version: undefined };

describe('KV mount cache', () => {
  it('looks each mount up once, however many secrets under it are asked for at the same time', async () => {
    const lookups: string[] = [];
    const mounts = [KV2, KV1, DB];
    const cache = new MountCache(async (path) => {
      lookups.push(path);
      await new Promise((resolve) => setImmediate(resolve));
      const found = mounts.find((m) => `${path}/`.startsWith(m.path));
      if (!found) throw new Error('no mount');
      return found;
    });
    const paths = [...Array.from({ length: 50 }, (_, i) => `secret/app${i}`), 'kv1/a', 'kv1/b', 'database/creds/app'];
    const found = await Promise.all(paths.map((p) => cache.mountFor(p)));
    expect(found.slice(0, 50).every((m) => m === KV2)).toBe(true);
    expect(found.slice(50, 52)).toEqual([KV1, KV1]);
    expect(found[52]).toBe(DB);
    expect(lookups).toHaveLength(3);
  });

  it('looks a forgotten mount up again once, however many paths under it failed together', async () => {
    let lookups = 0;
    const cache = new MountCache(() => {
      lookups++;
      return Promise.resolve({ ...KV2 });
    });
    const stale = await cache.mountFor('secret/a');
    for (let i = 0; i < 20; i++) cache.forget(stale);
    const again = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.mountFor(`secret/p${i}`)));
    expect(again.every((m) => m === again[0] && m !== stale)).toBe(true);
    expect(lookups).toBe(2);
    cache.clear();
    await cache.mountFor('secret/a');
    expect(lookups).toBe(3);
  });

  it('tries again after a failed lookup', async () => {
    let calls = 0;
    const cache = new MountCache(() => {
      calls++;
      return calls === 1 ? Promise.reject(new Error('sealed')) : Promise.resolve(KV2);
    });
    await expect(cache.mountFor('secret/a')).rejects.toThrow('sealed');
    expect(await cache.mountFor('secret/a')).toBe(KV2);
  });
});

describe('KV read paths', () => {
  it('inserts data/ for KV v2, keeps an explicit one, passes a version query, and leaves KV v1 alone', () => {
    expect(kvReadPath(KV2, 'secret/app/db')).toEqual({ apiPath: 'secret/data/app/db', query: '' });
    expect(kvReadPath(KV2, 'secret/data/app/db')).toEqual({ apiPath: 'secret/data/app/db', query: '' });
    expect(kvReadPath(KV2, 'secret/app?version=3')).toEqual({ apiPath: 'secret/data/app', query: 'version=3' });
    expect(kvReadPath(KV1, 'kv1/legacy')).toEqual({ apiPath: 'kv1/legacy', query: '' });
  });
});

describe('Vault error mapping', () => {
  const http = (statusCode: number, message: string) => Object.assign(new Error(message), { response: { statusCode } });

  it('stops on 403 and 404, retries 429, 5xx (sealed, standby) and network errors', () => {
    expect(vaultError(http(403, '1 error occurred:\n\t* permission denied\n\n'), 'x')).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_DENIED',
      retryable: false,
      message: 'x: permission denied (403)',
    });
    expect(vaultError(http(404, ''), 'x')).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_NOT_FOUND', retryable: false });
    for (const status of [429, 500, 503])
      expect(vaultError(http(status, 'Vault is sealed'), 'x')).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE', retryable: true });
    expect(vaultError(http(400, 'bad request'), 'x')).toMatchObject({ code: 'SIDECAR_ERR_BACKEND_MALFORMED', retryable: false });
    expect(vaultError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'x')).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE',
      retryable: true,
      message: 'x: connection refused: nothing listens at that address (ECONNREFUSED)',
    });
  });

  it('says what a network failure was, not "Error"', () => {
    expect(vaultError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'x').message).toBe(
      'x: connection closed by the server before it answered (socket hang up)',
    );
    expect(vaultError(Object.assign(new Error('Error'), { code: 'EPIPE' }), 'x').message).toBe(
      'x: connection closed by the server while sending the request (EPIPE)',
    );
  });

  it('codes a login refused with 400 (a wrong secret_id) as denied, not malformed, and does not retry it', () => {
    expect(vaultError(http(400, 'invalid role or secret ID'), 'x', { login: true })).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_DENIED',
      retryable: false,
      message: 'x: invalid role or secret ID (400)',
    });
  });

  it("carries Vault's Retry-After on 429 and 503 to the retry loop", () => {
    expect(vaultError(new VaultHttpError(429, 'rate limited', 4_000), 'x')).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE',
      retryable: true,
      retryAfterMs: 4_000,
    });
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('keeps nothing of the request, whose headers carry the token', () => {
    const error = Object.assign(new Error('boom'), { response: { statusCode: 500 }, config: { headers: { 'X-Vault-Token': 'hvs.leak' } } });
    const coded = vaultError(error, 'x');
    expect(JSON.stringify({ ...coded, message: coded.message, cause: coded.cause })).not.toContain('hvs.leak');
  });
});
