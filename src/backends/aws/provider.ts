import { z } from 'zod';
import {
  DEFAULT_REFRESH_INTERVAL_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  httpEndpoint,
  maxRequestsPerSecond,
  refreshInterval,
  requestTimeout,
} from '../../config/schema-fragments.js';
import { defineProvider, type BackendDependencies } from '../provider.js';
import type { SecretBackend } from '../types.js';

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

/** Secrets Manager and SSM Parameter Store take the same block. */
const awsSchema = z.strictObject({
  region: z.string().min(1).optional(),
  endpoint: httpEndpoint().optional(),
  refresh_interval: refreshInterval().optional(),
  max_requests_per_second: maxRequestsPerSecond(10_000).optional(),
  request_timeout: requestTimeout().optional(),
});

/** Secrets Manager and SSM differ only in their type name and their backend class. */
function awsProvider<T extends AwsSecretsManagerBackendConfig['type']>(
  type: T,
  open: (config: AwsSecretsManagerBackendConfig, deps: BackendDependencies) => Promise<SecretBackend>,
) {
  return defineProvider<T, typeof awsSchema, AwsSecretsManagerBackendConfig & { readonly type: T }>({
    type,
    title: 'AWS',
    schema: awsSchema,
    resolve: (block, { name }) =>
      Object.freeze({
        type,
        name,
        region: block.region,
        endpoint: block.endpoint,
        refreshIntervalMs: block.refresh_interval ?? DEFAULT_REFRESH_INTERVAL_MS,
        maxRequestsPerSecond: block.max_requests_per_second ?? 20,
        requestTimeoutMs: block.request_timeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
      }),
    open,
    bundleExternal: ['@aws-sdk/*'],
  });
}

/** `backend "aws_secrets_manager" "name" {}`. */
export const awsSecretsManagerProvider = awsProvider('aws_secrets_manager', async (config, deps) => {
  const { SecretsManagerBackend } = await import('./secrets-manager-backend.js');
  return SecretsManagerBackend.open(config, deps.logger.child({ backend: config.name }), deps.live);
});

/** `backend "aws_ssm" "name" {}`: SSM Parameter Store. */
export const awsSsmProvider = awsProvider('aws_ssm', async (config, deps) => {
  const { SsmBackend } = await import('./ssm-backend.js');
  return SsmBackend.open(config, deps.logger.child({ backend: config.name }));
});
