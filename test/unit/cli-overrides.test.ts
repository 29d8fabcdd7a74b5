import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { applyOverrides, parseListenAddress } from '../../src/config/overrides.js';

const VAULT = `backend "vault" "main" {
  address   = "https://vault.example:8200"
  cache_dir = "/run/app/.cache"
}
backend "file" "local" {
  path = "secrets.json"
}
`;

describe('command-line overrides (what an injecting webhook controls)', () => {
  it('--listen adds a listener to a config that has none, with the default readiness grace', async () => {
    const config = applyOverrides(await parseConfig(VAULT, '/etc/s/sidecar.hcl'), { listen: '10.1.2.3:9102' });
    expect(config.listener).toEqual({ host: '10.1.2.3', port: 9102, readinessGraceMs: 60_000, refreshTokenFile: undefined, refreshTokenEnv: undefined });
  });

  it("--listen wins over the config's address and keeps its other listener settings", async () => {
    const text = `${VAULT}listener {\n  address = "127.0.0.1:1"\n  readiness_grace = "5s"\n  refresh_token_file = "token"\n}\n`;
    const config = applyOverrides(await parseConfig(text, '/etc/s/sidecar.hcl'), { listen: 'fd00::12:9102' });
    expect(config.listener).toEqual({ host: 'fd00::12', port: 9102, readinessGraceMs: 5000, refreshTokenFile: '/etc/s/token', refreshTokenEnv: undefined });
  });

  it('--cache-dir gives every backend that keeps a cache its own directory under it, and touches no other', async () => {
    const config = applyOverrides(await parseConfig(VAULT, '/etc/s/sidecar.hcl'), { cacheDir: '/var/cache/secrets-sidecar' });
    expect(Object.fromEntries(config.backends.map((b) => [b.name, (b as { cacheDir?: string }).cacheDir]))).toEqual({
      main: '/var/cache/secrets-sidecar/backend-main',
      local: undefined,
    });
    expect(() => applyOverrides(config, { cacheDir: 'relative' })).toThrow(/--cache-dir must be an absolute path/);
  });

  it("refuses a --cache-dir inside, or equal to, a template's destination directory, as cache_dir is refused", async () => {
    const config = await parseConfig(`${VAULT}template {\n  contents = "x"\n  destination = "/run/app/out/a.txt"\n}\n`, '/etc/s/sidecar.hcl');
    for (const dir of ['/run/app/out', '/run/app/out/.cache', '/run/app/out/../out/c']) {
      expect(() => applyOverrides(config, { cacheDir: dir }), dir).toThrow(
        expect.objectContaining({ code: 'SIDECAR_ERR_USAGE', message: expect.stringContaining("a template's destination directory") as string }) as Error,
      );
    }
    expect(applyOverrides(config, { cacheDir: '/run/app/out-cache' }).backends.find((b) => b.name === 'main')).toMatchObject({ cacheDir: '/run/app/out-cache/backend-main' });
  });

  it('refuses a --listen that is not host:port, as a usage error', () => {
    for (const bad of ['9102', ':9102', 'host:', 'host:99999', 'a b:1', 'x:1\n']) {
      expect(() => parseListenAddress(bad), bad).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_USAGE' }) as Error);
    }
    expect(parseListenAddress('[::1]:9102')).toEqual({ host: '::1', port: 9102 });
  });
});
