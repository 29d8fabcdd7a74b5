import type { AnyProvider, BackendDependencies } from './provider.js';
import { PROVIDERS, type BackendConfig } from './registry.js';
import type { SecretBackend } from './types.js';

export type { BackendDependencies } from './provider.js';

/** Builds a backend from its config through its provider's factory, which loads the implementation on demand. */
export async function createBackend(config: BackendConfig, deps: BackendDependencies): Promise<SecretBackend> {
  const provider: AnyProvider | undefined = PROVIDERS.find((p) => p.type === config.type);
  if (provider === undefined) throw new Error(`no provider for backend type "${config.type}"`);
  return provider.open(config, deps);
}
