import { z } from 'zod';
import {
  DEFAULT_REFRESH_INTERVAL_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  maxRequestsPerSecond,
  pathOption,
  refreshInterval,
  requestTimeout,
} from '../../config/schema-fragments.js';
import { defineProvider } from '../provider.js';

export interface GcpSecretManagerBackendConfig {
  readonly type: 'gcp_secret_manager';
  readonly name: string;
  /** The project id (or number) that owns the secrets. */
  readonly project: string;
  /** host[:port] of the API, for a regional or Private Service Connect endpoint; undefined: Google's global one. */
  readonly endpoint: string | undefined;
  /** A service-account key file; undefined: Application Default Credentials. */
  readonly credentialsFile: string | undefined;
  /** How often the latest version is checked (one GetSecretVersion) to see whether it changed. */
  readonly refreshIntervalMs: number;
  /** The whole of one fetch (the version check and the payload read); past it the fetch fails and is retried. */
  readonly requestTimeoutMs: number;
  /** A cap on this backend's calls, so a fleet of sidecars stays within the project's quota. */
  readonly maxRequestsPerSecond: number;
}

/** `backend "gcp_secret_manager" "name" { project = … }`. */
export const gcpSecretManagerProvider = defineProvider({
  type: 'gcp_secret_manager',
  title: 'GCP Secret Manager',
  schema: z.strictObject({
    // Google's rule for project ids, or a project number: nothing that could reach into another resource name.
    project: z
      .string()
      .regex(/^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})$/, 'expected a project id (6 to 30 lowercase letters, digits and "-") or a project number'),
    endpoint: z
      .string()
      .regex(/^(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+(?::[0-9]{1,5})?$/, 'expected host or host:port, such as "secretmanager.europe-west1.rep.googleapis.com"')
      .optional(),
    credentials_file: pathOption().optional(),
    refresh_interval: refreshInterval().optional(),
    request_timeout: requestTimeout().optional(),
    max_requests_per_second: maxRequestsPerSecond(10_000).optional(),
  }),
  resolve(block, { name, path }): GcpSecretManagerBackendConfig {
    return Object.freeze({
      type: 'gcp_secret_manager',
      name,
      project: block.project,
      endpoint: block.endpoint,
      credentialsFile: path(block.credentials_file),
      refreshIntervalMs: block.refresh_interval ?? DEFAULT_REFRESH_INTERVAL_MS,
      requestTimeoutMs: block.request_timeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxRequestsPerSecond: block.max_requests_per_second ?? 20,
    });
  },
  async open(config, deps) {
    const { GcpSecretManagerBackend } = await import('./gcp-secret-manager-backend.js');
    return new GcpSecretManagerBackend(config, deps.logger.child({ backend: config.name }));
  },
  bundleExternal: ['@google-cloud/*', 'google-gax'],
});
