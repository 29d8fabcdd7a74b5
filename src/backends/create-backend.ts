import type { BackendConfig, RetryPolicy } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { SecretBackend } from './types.js';

export interface BackendDependencies {
  readonly logger: Logger;
  /** The sidecar's environment, for the variables providers honour (VAULT_ADDR, VAULT_TOKEN, …). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly retry: RetryPolicy;
  /** `run` (true): keep tokens and leases alive. `once` (false): fetch and be done, no background work. */
  readonly live: boolean;
}

/** Builds a backend from its config. Providers are imported on demand so an unused SDK is never loaded. */
export async function createBackend(config: BackendConfig, deps: BackendDependencies): Promise<SecretBackend> {
  switch (config.type) {
    case 'file': {
      const { FileBackend } = await import('./file/file-backend.js');
      return new FileBackend(config, deps.logger.child({ backend: config.name }));
    }
    case 'aws_ssm': {
      const { SsmBackend } = await import('./aws/ssm-backend.js');
      return SsmBackend.open(config, deps.logger.child({ backend: config.name }));
    }
    case 'aws_secrets_manager': {
      const { SecretsManagerBackend } = await import('./aws/secrets-manager-backend.js');
      return SecretsManagerBackend.open(config, deps.logger.child({ backend: config.name }), deps.live);
    }
    case 'azure_key_vault': {
      const { KeyVaultBackend } = await import('./azure/key-vault-backend.js');
      return new KeyVaultBackend(config, deps.logger.child({ backend: config.name }));
    }
    case 'ejson': {
      const { EjsonBackend } = await import('./ejson/ejson-backend.js');
      return new EjsonBackend(config, deps.env, deps.logger.child({ backend: config.name }));
    }
    case 'vault': {
      const { VaultBackend } = await import('./vault/vault-backend.js');
      return new VaultBackend(config, deps.env, deps.logger.child({ backend: config.name }), deps.retry, deps.live);
    }
  }
}
