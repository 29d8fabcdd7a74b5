import { describe, expect, it } from 'vitest';
import { TokenManager, type TokenManagerDependencies } from '../../src/backends/vault/token-manager.js';
import { SidecarError } from '../../src/errors.js';
import { createSilentLogger } from '../../src/log/logger.js';

/** A Vault stand-in for the two calls the token manager makes: logins hand out numbered tokens. */
function fakeVault(options: { alive: (token: string) => boolean; lookupError?: SidecarError; maxBackoffMs?: number }) {
  let issued = 0;
  const endings: { generation: number; reason: string }[] = [];
  const lookups: string[] = [];
  const deps: TokenManagerDependencies = {
    post: () => Promise.resolve({ client_token: `token-${++issued}`, lease_duration: 3600, renewable: true }),
    lookupSelf: (token) => {
      lookups.push(token);
      if (options.lookupError) return Promise.reject(options.lookupError);
      return options.alive(token)
        ? Promise.resolve({ ttl: 3600, renewable: true })
        : Promise.reject(new SidecarError('SIDECAR_ERR_BACKEND_DENIED', 'permission denied'));
    },
    revokeSelf: () => Promise.resolve(),
    env: {},
    logger: createSilentLogger(),
    backend: 'main',
    retry: { attempts: 0, backoffMs: 1, maxBackoffMs: options.maxBackoffMs ?? 1 },
    keepAlive: false,
    onTokenEnding: (generation, reason) => endings.push({ generation, reason }),
  };
  const manager = new TokenManager({ method: 'approle', mount: 'approle', roleId: 'role', roleIdFile: undefined, secretIdFile: undefined }, deps);
  return { manager, endings, lookups, logins: () => issued };
}

describe('token manager after a refused request', () => {
  it('keeps its token when the refusal was the policy (the token itself still looks up fine)', async () => {
    const vault = fakeVault({ alive: () => true });
    const token = await vault.manager.token();
    expect(await vault.manager.afterDenied(token)).toBe(false);
    expect(await vault.manager.token()).toBe(token);
    expect(vault.logins()).toBe(1);
    expect(vault.endings).toEqual([]);
  });

  it('logs in again when the token is gone, and reports the old token as ending once the new one is in hand', async () => {
    const vault = fakeVault({ alive: (token) => token !== 'token-1' });
    const first = await vault.manager.token();
    const generation = vault.manager.generation;
    // A burst of refusals of the same token costs one lookup.
    expect(await Promise.all([vault.manager.afterDenied(first), vault.manager.afterDenied(first)])).toEqual([true, true]);
    expect(vault.lookups).toEqual(['token-1']);
    expect(vault.endings).toEqual([]);
    expect(await vault.manager.token()).toBe('token-2');
    expect(vault.manager.generation).toBe(generation + 1);
    expect(vault.endings).toEqual([{ generation, reason: 'the token was revoked or has expired' }]);
    expect(vault.logins()).toBe(2);
  });

  it('logs in again at most once per backoff period, however many refusals follow', async () => {
    const vault = fakeVault({ alive: () => false, maxBackoffMs: 60_000 });
    const first = await vault.manager.token();
    expect(await vault.manager.afterDenied(first)).toBe(true);
    const second = await vault.manager.token();
    // The new token is refused too (the path is what is denied): no second login within the period.
    expect(await vault.manager.afterDenied(second)).toBe(false);
    expect(await vault.manager.token()).toBe(second);
    expect(vault.logins()).toBe(2);
  });

  it('keeps a token that should still be alive by its own TTL when Vault cannot be asked', async () => {
    const vault = fakeVault({ alive: () => false, lookupError: new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', 'sealed (503)') });
    const token = await vault.manager.token();
    expect(await vault.manager.afterDenied(token)).toBe(false);
    expect(vault.logins()).toBe(1);
  });
});
