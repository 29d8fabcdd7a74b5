import { readdirSync, existsSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AnyProvider } from '../../src/backends/provider.js';
import { PROVIDERS, type BackendType } from '../../src/backends/registry.js';
import { parseConfig } from '../../src/config/load-config.js';
import { configError } from '../support/config-error.js';

const BACKENDS = new URL('../../src/backends/', import.meta.url);

const isDescriptor = (value: unknown): value is AnyProvider =>
  typeof value === 'object' && value !== null && 'type' in value && 'schema' in value && 'open' in value;

describe('the provider registry', () => {
  it('lists every descriptor that a provider folder exports, once', async () => {
    const folders = readdirSync(BACKENDS, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.length).toBeGreaterThanOrEqual(5);
    const exported: AnyProvider[] = [];
    for (const folder of folders) {
      const file = new URL(`${folder}/provider.ts`, BACKENDS);
      expect(existsSync(file), `src/backends/${folder}/ has a provider.ts`).toBe(true);
      const module = (await import(file.href)) as Record<string, unknown>;
      exported.push(...Object.values(module).filter(isDescriptor));
    }
    expect(new Set(PROVIDERS)).toEqual(new Set(exported));
    expect(new Set(PROVIDERS.map((p) => p.type)).size).toBe(PROVIDERS.length);
  });

  it('derives the backend types from the descriptors', () => {
    expectTypeOf<BackendType>().toEqualTypeOf<(typeof PROVIDERS)[number]['type']>();
  });

  it('keeps a backend name unique across every type, with the location of the second use', async () => {
    const error = await configError(
      'backend "file" "shared" {\n  path = "s.json"\n}\nbackend "ejson" "shared" {\n  path = "s.ejson"\n}\n',
      '/etc/sidecar/sidecar.hcl',
    );
    expect(error.message).toMatch(
      /^\/etc\/sidecar\/sidecar\.hcl:4:\d+: backend\.ejson\.shared: backend name "shared" is already used by the backend of type "file"/,
    );
  });

  it('points at whichever use comes second in the file, whatever the order of the registry', async () => {
    // The registry lists file before ejson and vault before ejson: the check follows the file, not that list.
    const ejsonFirst = await configError(
      'backend "ejson" "shared" {\n  path = "s.ejson"\n}\nbackend "file" "shared" {\n  path = "s.json"\n}\n',
      '/etc/sidecar/sidecar.hcl',
    );
    expect(ejsonFirst.message).toMatch(
      /^\/etc\/sidecar\/sidecar\.hcl:4:\d+: backend\.file\.shared: backend name "shared" is already used by the backend of type "ejson"/,
    );
    const json = await configError(
      JSON.stringify({ backend: { azure_key_vault: { x: { vault_url: 'https://v.vault.azure.net' } }, aws_ssm: { x: {} } } }, null, 2),
      '/etc/sidecar/sidecar.json',
    );
    expect(json.message).toMatch(
      /^\/etc\/sidecar\/sidecar\.json:\d+:\d+: backend\.aws_ssm\.x: backend name "x" is already used by the backend of type "azure_key_vault"/,
    );
  });

  it("resolves each block through its provider, relative paths against the config's directory", async () => {
    const config = await parseConfig(
      'backend "file" "f" {\n  path = "s.json"\n}\nbackend "ejson" "e" {\n  path = "s.ejson"\n  key_dir = "keys"\n}\n',
      '/etc/sidecar/sidecar.hcl',
    );
    expect(config.backends).toEqual([
      { type: 'file', name: 'f', path: '/etc/sidecar/s.json', format: undefined, pollIntervalMs: undefined },
      { type: 'ejson', name: 'e', path: '/etc/sidecar/s.ejson', keyDir: '/etc/sidecar/keys', keyFile: undefined, pollIntervalMs: undefined },
    ]);
    expect(Object.isFrozen(config.backends[0])).toBe(true);
  });
});
