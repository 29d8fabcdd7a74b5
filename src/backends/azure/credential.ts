import { readFileSync } from 'node:fs';
import {
  AzureCliCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { AzureKeyVaultBackendConfig } from './provider.js';
import { SidecarError } from '../../errors.js';

/**
 * The credential a `credential` mode names. Each reads what @azure/identity reads (AZURE_CLIENT_ID,
 * AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, IDENTITY_ENDPOINT, …); `client_id` picks a user-assigned identity
 * or an app registration. A client secret comes from a file, never from the config itself.
 */
export function createCredential(config: AzureKeyVaultBackendConfig): TokenCredential {
  const clientId = config.clientId;
  switch (config.credential) {
    case 'default':
      return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId, workloadIdentityClientId: clientId } : {});
    case 'managed_identity':
      return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
    case 'workload_identity':
      return new WorkloadIdentityCredential({ ...(clientId ? { clientId } : {}), ...(config.tenantId ? { tenantId: config.tenantId } : {}) });
    case 'azure_cli':
      return new AzureCliCredential(config.tenantId ? { tenantId: config.tenantId } : {});
    case 'client_secret': {
      const file = config.clientSecretFile ?? '';
      let secret: string;
      try {
        secret = readFileSync(file, 'utf8').trim();
      } catch (error) {
        throw new SidecarError(
          'SIDECAR_ERR_BACKEND_DENIED',
          `backend "${config.name}": cannot read client_secret_file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
      return new ClientSecretCredential(config.tenantId ?? '', clientId ?? '', secret);
    }
  }
}
