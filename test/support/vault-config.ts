import type { VaultBackendConfig } from '../../src/config/types.js';

/** A resolved Vault backend block, for tests that build a VaultBackend directly: the defaults, and `overrides`. */
export function vaultBackendConfig(address: string, overrides: Partial<VaultBackendConfig> = {}): VaultBackendConfig {
  return {
    type: 'vault',
    name: 'main',
    address,
    namespace: undefined,
    caCert: undefined,
    clientCert: undefined,
    clientKey: undefined,
    tlsServerName: undefined,
    tlsSkipVerify: false,
    auth: { method: 'token', token: 'test-token', tokenFile: undefined },
    maxConnections: 4,
    staticRefreshMs: 300_000,
    requestTimeoutMs: 5_000,
    revokeLeasesOnExit: false,
    revokeTimeoutMs: 10_000,
    cacheDir: undefined,
    leaseRenewalThreshold: 2 / 3,
    rotationMarginMs: 10_000,
    revokeReplacedLeases: false,
    ...overrides,
  };
}
