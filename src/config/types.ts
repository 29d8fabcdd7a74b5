import type { LogFormat, LogLevel } from '../log/logger.js';

/** The config after validation and defaults: frozen, typed, every path absolute, every duration in ms. */
export interface ResolvedConfig {
  /** Absolute path of the config file; relative paths inside it were resolved against its directory. */
  readonly file: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Environment variables the `env` template helper may read: exact names, or prefixes ending in `*`. */
  readonly envAllow: readonly string[];
  /**
   * Variables holding the sidecar's own credentials (names, prefixes ending in `*`): kept from the child, command
   * hooks and the `env` helper unless an allow list names the exact variable.
   */
  readonly credentialEnv: readonly string[];
  readonly retry: RetryPolicy;
  readonly wait: WaitPolicy;
  readonly backends: readonly BackendConfig[];
  readonly notify: readonly NotifyConfig[];
  readonly templates: readonly TemplateConfig[];
  /** The application run under the sidecar, if any. */
  readonly exec: ExecConfig | undefined;
  /** Variables rendered into the supervised child's environment (needs exec). */
  readonly envTemplates: readonly EnvTemplateConfig[];
  /** Where the sidecar writes its own pid (for a supervisor or a test harness); undefined: nowhere. */
  readonly pidFile: string | undefined;
  /** Refuse (not just warn about) destination directories others could tamper with. */
  readonly strict: boolean;
  /** Health, readiness, metrics and forced refresh over HTTP (`run` only); undefined: off. */
  readonly listener: ListenerConfig | undefined;
  /** Where audit records go as JSON lines, besides the log; undefined: the log only. */
  readonly audit: AuditConfig | undefined;
}

export interface ListenerConfig {
  readonly host: string;
  readonly port: number;
  /** How long a secret may keep failing before /readyz says 503. */
  readonly readinessGraceMs: number;
  /** Where the forced-refresh token is read from; neither: POST /v1/refresh is off. */
  readonly refreshTokenFile: string | undefined;
  readonly refreshTokenEnv: string | undefined;
}

export type AuditConfig = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stdout' };

export interface RetryPolicy {
  /** Attempts after the first failure; 0 means retry for as long as the process runs. */
  readonly attempts: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

/** Quiescence: render once no change has arrived for `minMs`, but never later than `maxMs` after the first. */
export interface WaitPolicy {
  readonly minMs: number;
  readonly maxMs: number;
}

export type FileBackendFormat = 'json' | 'yaml' | 'directory';

export interface FileBackendConfig {
  readonly type: 'file';
  readonly name: string;
  readonly path: string;
  /** undefined: decided from the path when the backend opens (directory, .json, .yaml/.yml). */
  readonly format: FileBackendFormat | undefined;
  /** undefined: inotify. Set for filesystems without it (NFS, some FUSE mounts): chokidar polls at this interval. */
  readonly pollIntervalMs: number | undefined;
}

export interface VaultBackendConfig {
  readonly type: 'vault';
  readonly name: string;
  /** undefined: VAULT_ADDR, then http://127.0.0.1:8200. */
  readonly address: string | undefined;
  /** undefined: VAULT_NAMESPACE. */
  readonly namespace: string | undefined;
  /** undefined: VAULT_CACERT, then the system's trust store. */
  readonly caCert: string | undefined;
  /** A client certificate and key for mutual TLS. undefined: VAULT_CLIENT_CERT and VAULT_CLIENT_KEY. */
  readonly clientCert: string | undefined;
  readonly clientKey: string | undefined;
  /** undefined: VAULT_TLS_SERVER_NAME. */
  readonly tlsServerName: string | undefined;
  readonly tlsSkipVerify: boolean;
  readonly auth: VaultAuthConfig;
  readonly maxConnections: number;
  /** How often a static secret (KV) is read again to see whether it changed. */
  readonly staticRefreshMs: number;
  readonly requestTimeoutMs: number;
  /** On SIGTERM/SIGINT in `run`, revoke the leases this sidecar holds (emergency revocation). */
  readonly revokeLeasesOnExit: boolean;
  /** The most time revocations at exit may take, all leases together (the shutdown's own budget may end it sooner). */
  readonly revokeTimeoutMs: number;
  /** Where issuances (PKI certificates and keys) are kept so a restart can reuse them; tmpfs only. */
  readonly cacheDir: string | undefined;
  /** The fraction of a lease, token or certificate lifetime after which it is renewed or replaced. */
  readonly leaseRenewalThreshold: number;
  /**
   * How long before a lease, token or certificate ends its replacement must be in the app's hands. Default: the
   * longest quiescence wait plus the longest notify timeout, the time the app may need to switch.
   */
  readonly rotationMarginMs: number;
  /** Revoke a replaced lease once the app has had the rotation margin to switch, instead of letting it run out. */
  readonly revokeReplacedLeases: boolean;
}

/** How the Vault backend gets its token. */
export type VaultAuthConfig =
  /** Given, or from token_file (re-read when it changes), or VAULT_TOKEN. */
  | { readonly method: 'token'; readonly token: string | undefined; readonly tokenFile: string | undefined }
  /** AppRole login; the files are read at each login (a new secret_id may be delivered). */
  | { readonly method: 'approle'; readonly mount: string; readonly roleId: string | undefined; readonly roleIdFile: string | undefined; readonly secretIdFile: string | undefined }
  /** JWT login, and Kubernetes login (the same {role, jwt} POST with the service account token). */
  | { readonly method: 'jwt' | 'kubernetes'; readonly mount: string; readonly role: string; readonly jwtFile: string };

/** The default limit on what one template renders (max_size). */
export const DEFAULT_MAX_RENDER_BYTES = 1024 * 1024;

/** Where a pod's service-account token is mounted. */
export const KUBERNETES_SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface AwsSecretsManagerBackendConfig {
  readonly type: 'aws_secrets_manager' | 'aws_ssm';
  readonly name: string;
  /** undefined: the SDK's resolution (AWS_REGION, the shared config file, …). */
  readonly region: string | undefined;
  /** For moto, LocalStack or a VPC endpoint; undefined: AWS's own (or AWS_ENDPOINT_URL). */
  readonly endpoint: string | undefined;
  /** How often a secret is checked for a new version (Secrets Manager: one DescribeSecret; SSM: a read). */
  readonly refreshIntervalMs: number;
  /** A cap on this backend's API calls, so a fleet of sidecars does not exhaust the account's quota. */
  readonly maxRequestsPerSecond: number;
  /** The deadline of one whole call: connect, headers and body. */
  readonly requestTimeoutMs: number;
}

export interface EjsonBackendConfig {
  readonly type: 'ejson';
  readonly name: string;
  readonly path: string;
  /** undefined: EJSON_KEYDIR, then /opt/ejson/keys. */
  readonly keyDir: string | undefined;
  /** The private key's file, instead of looking it up by public key in keyDir. */
  readonly keyFile: string | undefined;
  /** undefined: inotify; set for filesystems without it. */
  readonly pollIntervalMs: number | undefined;
}

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

export type BackendConfig = FileBackendConfig | VaultBackendConfig | AwsSecretsManagerBackendConfig | EjsonBackendConfig | AzureKeyVaultBackendConfig;
export type BackendType = BackendConfig['type'];

/** The reload target name that stands for the supervised child. */
export const EXEC_TARGET = 'exec';

export interface ExecConfig {
  readonly command: readonly string[];
  /** undefined: restart the child when its files change. */
  readonly reloadSignal: string | undefined;
  readonly killSignal: string;
  readonly killTimeoutMs: number;
  readonly splayMs: number;
  readonly restart: 'never' | 'on-failure';
  readonly env: ChildEnvPolicy;
}

/** Which of the sidecar's variables the child inherits. */
export interface ChildEnvPolicy {
  /** Start from an empty environment instead of the sidecar's. */
  readonly pristine: boolean;
  /** When non-empty, only these pass (names or prefixes ending in "*"); naming a denied variable here allows it. */
  readonly allow: readonly string[];
  /** Never pass these; the sidecar's own credential variables are always added. */
  readonly deny: readonly string[];
}

export interface EnvTemplateConfig {
  /** The variable's name, which messages also use. */
  readonly name: string;
  readonly source: string | undefined;
  readonly contents: string | undefined;
  readonly errorOnMissingKey: boolean;
}

/** How one reload target is reached. */
export type NotifyAction =
  | { readonly kind: 'pid-file'; readonly pidFile: string; readonly signal: string }
  | { readonly kind: 'process'; readonly pattern: string; readonly signal: string }
  | { readonly kind: 'http'; readonly url: string; readonly method: 'GET' | 'POST' | 'PUT'; readonly headers: Readonly<Record<string, string>>; readonly timeoutMs: number }
  | { readonly kind: 'command'; readonly command: readonly string[]; readonly timeoutMs: number };

export interface NotifyConfig {
  readonly name: string;
  readonly action: NotifyAction;
}

export interface TemplateConfig {
  /** Position in the config, for messages when there is no source file. */
  readonly index: number;
  /** What messages call this template: its source path as written, or "template[i] (contents)". */
  readonly name: string;
  readonly source: string | undefined;
  readonly contents: string | undefined;
  readonly destination: string;
  readonly perms: number;
  readonly user: number | string | undefined;
  readonly group: number | string | undefined;
  readonly createDestDirs: boolean;
  readonly errorOnMissingKey: boolean;
  /** The most this template may render, in bytes. */
  readonly maxBytes: number;
  readonly allowNonTmpfs: boolean;
  readonly wait: WaitPolicy;
  /** Names of the notify targets fired when this template's file changes. */
  readonly notify: readonly string[];
}
