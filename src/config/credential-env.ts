/**
 * Variables that hold the sidecar's own credentials or point at them, as names or prefixes ending in "*": what the
 * Vault backend reads (VAULT_TOKEN, VAULT_CLIENT_KEY, …), the AWS SDK's chain (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_WEB_IDENTITY_TOKEN_FILE, …), @azure/identity's (AZURE_CLIENT_SECRET,
 * AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE, IDENTITY_HEADER,
 * MSI_SECRET, …), ejson's key directory, and the usual pointers to other cloud or cluster credentials. A prefix,
 * not a list of today's names: an SDK update that reads one more variable must not hand it to the application.
 */
export const SIDECAR_CREDENTIAL_ENV: readonly string[] = Object.freeze([
  'VAULT_*',
  'BAO_*',
  'AWS_*',
  'AZURE_*',
  'ARM_*',
  'IDENTITY_*',
  'MSI_*',
  'IMDS_*',
  'SYSTEM_OIDCREQUESTURI',
  'EJSON_*',
  'GOOGLE_*',
  'GCP_*',
  'KUBECONFIG',
  'SECRETS_SIDECAR_*',
]);

/**
 * The one deny list applied to the supervised child, command hooks and the `env` template helper: the sidecar's
 * own credential variables plus every variable the config names as holding a credential (`refresh_token_env`).
 * Only an exact name in an allow list lets one of them through, never a prefix.
 */
export function credentialEnvDenyList(namedInConfig: readonly (string | undefined)[]): readonly string[] {
  const named = namedInConfig.filter((name): name is string => name !== undefined);
  return Object.freeze([...new Set([...SIDECAR_CREDENTIAL_ENV, ...named])]);
}
