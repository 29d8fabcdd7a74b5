import { awsSecretsManagerProvider, awsSsmProvider } from './aws/provider.js';
import { azureKeyVaultProvider } from './azure/provider.js';
import { ejsonProvider } from './ejson/provider.js';
import { fileProvider } from './file/provider.js';
import type { ProviderConfig } from './provider.js';
import { vaultProvider } from './vault/provider.js';

/** Every provider, one line each; the config schema, the resolver, the factory and the CLI are built from it. */
export const PROVIDERS = [
  fileProvider,
  vaultProvider,
  awsSecretsManagerProvider,
  awsSsmProvider,
  azureKeyVaultProvider,
  ejsonProvider,
] as const;

/** A resolved backend config: the union of what every provider resolves to. */
export type BackendConfig = ProviderConfig<(typeof PROVIDERS)[number]>;
export type BackendType = BackendConfig['type'];

/** The descriptor of a backend type. */
export function providerOf<T extends BackendType>(type: T): Extract<(typeof PROVIDERS)[number], { readonly type: T }> {
  const provider = PROVIDERS.find((p) => p.type === type);
  if (provider === undefined) throw new Error(`no provider for backend type "${type}"`);
  return provider as Extract<(typeof PROVIDERS)[number], { readonly type: T }>;
}
