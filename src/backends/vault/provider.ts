import { z } from 'zod';
import { DURATION_BOUNDS } from '../../config/duration.js';
import {
  DEFAULT_REFRESH_INTERVAL_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  duration,
  httpEndpoint,
  pathOption,
  refreshInterval,
  requestTimeout,
} from '../../config/schema-fragments.js';
import { directoryHolding } from '../../config/within-directory.js';
import { SERVICE_ACCOUNT_DIR } from '../../kubernetes-pod.js';
import { defineProvider, type ConfigFacts, type ResolveContext } from '../provider.js';

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
  /**
   * Where the login token, leases and issuances are kept for the `run` sidecar after a `once` init container and
   * for a restart to adopt; tmpfs only, never under a template's destination directory.
   */
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
  | {
      readonly method: 'approle';
      readonly mount: string;
      readonly roleId: string | undefined;
      readonly roleIdFile: string | undefined;
      readonly secretIdFile: string | undefined;
    }
  /** JWT login, and Kubernetes login (the same {role, jwt} POST with the service account token). */
  | { readonly method: 'jwt' | 'kubernetes'; readonly mount: string; readonly role: string; readonly jwtFile: string };

/** Where a pod's service-account token is mounted. */
export const KUBERNETES_SERVICE_ACCOUNT_TOKEN = `${SERVICE_ACCOUNT_DIR}/token`;

const jwtAuthSchema = z.strictObject({
  role: z.string().min(1),
  jwt_file: pathOption().optional(),
  mount: z.string().min(1).optional(),
});

const authSchema = z.strictObject({
  token: z.strictObject({ token: z.string().min(1).optional(), token_file: pathOption().optional() }).optional(),
  approle: z
    .strictObject({
      role_id: z.string().min(1).optional(),
      role_id_file: pathOption().optional(),
      secret_id_file: pathOption().optional(),
      mount: z.string().min(1).optional(),
    })
    .optional(),
  jwt: jwtAuthSchema.optional(),
  kubernetes: jwtAuthSchema.optional(),
});

const vaultSchema = z.strictObject({
  address: httpEndpoint().optional(),
  namespace: z.string().optional(),
  ca_cert: pathOption().optional(),
  client_cert: pathOption().optional(),
  client_key: pathOption().optional(),
  tls_server_name: z.string().min(1).optional(),
  tls_skip_verify: z.boolean().optional(),
  auth: authSchema.optional(),
  max_connections: z.number().int().min(1).max(1000).optional(),
  static_refresh_interval: refreshInterval().optional(),
  request_timeout: requestTimeout().optional(),
  revoke_leases_on_exit: z.boolean().optional(),
  revoke_timeout: duration(DURATION_BOUNDS.revokeTimeout).optional(),
  cache_dir: pathOption().optional(),
  lease_renewal_threshold: z.number().gt(0.1).lt(0.95).optional(),
  rotation_margin: duration(DURATION_BOUNDS.rotationMargin).optional(),
  revoke_replaced_leases: z.boolean().optional(),
});

function resolveAuth(raw: z.output<typeof authSchema> | undefined, { path, invalid }: ResolveContext): VaultAuthConfig {
  const at = (method?: string) => ['auth', ...(method ? [method] : [])];
  const methods = Object.entries(raw ?? {}).filter(([, v]) => v !== undefined);
  if (methods.length > 1) throw invalid(at(), `one auth method per backend (found ${methods.map(([m]) => m).join(', ')})`);
  if (raw?.approle) {
    const a = raw.approle;
    if ((a.role_id === undefined) === (a.role_id_file === undefined)) throw invalid(at('approle'), 'approle needs exactly one of "role_id" or "role_id_file"');
    return Object.freeze({
      method: 'approle',
      mount: a.mount ?? 'approle',
      roleId: a.role_id,
      roleIdFile: path(a.role_id_file),
      secretIdFile: path(a.secret_id_file),
    });
  }
  if (raw?.jwt) {
    if (raw.jwt.jwt_file === undefined) throw invalid(at('jwt'), 'jwt needs "jwt_file"');
    return Object.freeze({ method: 'jwt', mount: raw.jwt.mount ?? 'jwt', role: raw.jwt.role, jwtFile: path(raw.jwt.jwt_file) });
  }
  if (raw?.kubernetes) {
    const k = raw.kubernetes;
    return Object.freeze({ method: 'kubernetes', mount: k.mount ?? 'kubernetes', role: k.role, jwtFile: path(k.jwt_file) ?? KUBERNETES_SERVICE_ACCOUNT_TOKEN });
  }
  const token = raw?.token;
  if (token?.token !== undefined && token.token_file !== undefined) throw invalid(at('token'), 'give "token" or "token_file", not both');
  return Object.freeze({ method: 'token', token: token?.token, tokenFile: path(token?.token_file) });
}

/**
 * cache_dir holds a login token, which can read more than the rendered files: the application's container must
 * not see it, so it may not be a destination directory or sit under one (compared as resolved paths).
 */
function checkCacheDir(cacheDir: string | undefined, facts: ConfigFacts): void {
  if (cacheDir === undefined) return;
  const inside = directoryHolding(facts.destinationDirectories, cacheDir);
  if (inside !== undefined)
    throw facts.invalid(
      ['cache_dir'],
      `cache_dir ${cacheDir} is inside ${inside}, a template's destination directory: the application would see the Vault token it holds; give it a volume of its own, mounted into the sidecar containers only`,
    );
}

/** `backend "vault" "name" {}`: Vault or OpenBao. */
export const vaultProvider = defineProvider({
  type: 'vault',
  title: 'Vault/OpenBao',
  schema: vaultSchema,
  resolve(block, context): VaultBackendConfig {
    const { name, path, invalid } = context;
    if ((block.client_cert === undefined) !== (block.client_key === undefined)) {
      throw invalid(
        [block.client_cert === undefined ? 'client_key' : 'client_cert'],
        'client_cert and client_key go together: set both for mutual TLS, or neither',
      );
    }
    return Object.freeze({
      type: 'vault',
      name,
      address: block.address,
      namespace: block.namespace,
      caCert: path(block.ca_cert),
      clientCert: path(block.client_cert),
      clientKey: path(block.client_key),
      tlsServerName: block.tls_server_name,
      tlsSkipVerify: block.tls_skip_verify ?? false,
      auth: resolveAuth(block.auth, context),
      maxConnections: block.max_connections ?? 10,
      staticRefreshMs: block.static_refresh_interval ?? DEFAULT_REFRESH_INTERVAL_MS,
      requestTimeoutMs: block.request_timeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
      revokeLeasesOnExit: block.revoke_leases_on_exit ?? false,
      // Well inside the 30 s Kubernetes grants a pod between SIGTERM and SIGKILL.
      revokeTimeoutMs: block.revoke_timeout ?? 10_000,
      cacheDir: path(block.cache_dir),
      leaseRenewalThreshold: block.lease_renewal_threshold ?? 2 / 3,
      // Set by complete(), once the waits and notify timeouts are known.
      rotationMarginMs: block.rotation_margin ?? -1,
      revokeReplacedLeases: block.revoke_replaced_leases ?? true,
    });
  },
  complete(config, facts) {
    checkCacheDir(config.cacheDir, facts);
    // The rotation margin defaults to the time the app may need to switch to a new secret.
    return config.rotationMarginMs < 0 ? Object.freeze({ ...config, rotationMarginMs: facts.appSwitchAllowanceMs }) : config;
  },
  async open(config, deps) {
    const { VaultBackend } = await import('./vault-backend.js');
    return new VaultBackend(config, deps.env, deps.logger.child({ backend: config.name }), deps.retry, deps.live, deps.writeFile, {
      adopt: deps.adopt ?? false,
      certificateCacheDir: deps.certificateCacheDir,
      keep: deps.keep ?? true,
    });
  },
  bundleExternal: ['node-vault'],
});
