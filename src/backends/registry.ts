import { awsSecretsManagerProvider, awsSsmProvider } from './aws/provider.js';
import { azureKeyVaultProvider } from './azure/provider.js';
import { ejsonProvider } from './ejson/provider.js';
import { fileProvider } from './file/provider.js';
import { gcpSecretManagerProvider } from './gcp/provider.js';
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
  gcpSecretManagerProvider,
] as const;

/** A resolved backend config: the union of what every provider resolves to. */
export type BackendConfig = ProviderConfig<(typeof PROVIDERS)[number]>;
export type BackendType = BackendConfig['type'];
