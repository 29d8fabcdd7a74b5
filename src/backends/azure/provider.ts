import { z } from 'zod';
import {
  DEFAULT_REFRESH_INTERVAL_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  httpUrl,
  maxRequestsPerSecond,
  pathOption,
  refreshInterval,
  requestTimeout,
} from '../../config/schema-fragments.js';
import { defineProvider } from '../provider.js';

export type AzureCredentialMode = 'default' | 'workload_identity' | 'managed_identity' | 'client_secret' | 'azure_cli';

export interface AzureKeyVaultBackendConfig {
  readonly type: 'azure_key_vault';
  readonly name: string;
  /** https://<vault>.vault.azure.net (or a sovereign cloud's). */
  readonly vaultUrl: string;
  readonly credential: AzureCredentialMode;
  /** A user-assigned identity, or an app registration; undefined: the credential's own default. */
  readonly clientId: string | undefined;
  readonly tenantId: string | undefined;
  /** client_secret mode: the file holding the app registration's secret. */
  readonly clientSecretFile: string | undefined;
  /** How often the latest version is read to see whether it changed. */
  readonly refreshIntervalMs: number;
  /** A cap on this backend's requests, per vault, so a fleet does not hit the vault's throttling limits. */
  readonly maxRequestsPerSecond: number;
  /** The deadline of one whole read, the SDK's own retries and the sign-in included. */
  readonly requestTimeoutMs: number;
}

/** `backend "azure_key_vault" "name" { vault_url = … }`. */
export const azureKeyVaultProvider = defineProvider({
  type: 'azure_key_vault',
  title: 'Azure Key Vault',
  schema: z.strictObject({
    vault_url: httpUrl(/^https$/, 'expected an https:// vault URL'),
    credential: z.enum(['default', 'workload_identity', 'managed_identity', 'client_secret', 'azure_cli']).optional(),
    client_id: z.string().min(1).optional(),
    tenant_id: z.string().min(1).optional(),
    client_secret_file: pathOption().optional(),
    refresh_interval: refreshInterval().optional(),
    max_requests_per_second: maxRequestsPerSecond(1000).optional(),
    request_timeout: requestTimeout().optional(),
  }),
  resolve(block, { name, path, invalid }): AzureKeyVaultBackendConfig {
    const credential = block.credential ?? 'default';
    if (credential === 'client_secret' && (!block.client_id || !block.tenant_id || !block.client_secret_file)) {
      throw invalid(['credential'], 'credential "client_secret" needs client_id, tenant_id and client_secret_file');
    }
    if (credential !== 'client_secret' && block.client_secret_file !== undefined)
      throw invalid(['client_secret_file'], 'client_secret_file is for credential "client_secret"');
    return Object.freeze({
      type: 'azure_key_vault',
      name,
      vaultUrl: block.vault_url.replace(/\/+$/, ''),
      credential,
      clientId: block.client_id,
      tenantId: block.tenant_id,
      clientSecretFile: path(block.client_secret_file),
      refreshIntervalMs: block.refresh_interval ?? DEFAULT_REFRESH_INTERVAL_MS,
      maxRequestsPerSecond: block.max_requests_per_second ?? 10,
      requestTimeoutMs: block.request_timeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
    });
  },
  async open(config, deps) {
    const { KeyVaultBackend } = await import('./key-vault-backend.js');
    return new KeyVaultBackend(config, deps.logger.child({ backend: config.name }));
  },
  bundleExternal: ['@azure/*', 'node-forge'],
});
