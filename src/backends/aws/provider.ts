import { z } from 'zod';
import { httpEndpoint, maxRequestsPerSecond, refreshInterval, requestTimeout } from '../../config/schema-fragments.js';
import { defineProvider, type ResolveContext } from '../provider.js';

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

function resolveAws<T extends AwsSecretsManagerBackendConfig['type']>(type: T, block: z.output<typeof awsSchema>, { name }: ResolveContext) {
  return Object.freeze({
    type,
    name,
    region: block.region,
    endpoint: block.endpoint,
    refreshIntervalMs: block.refresh_interval ?? 300_000,
    maxRequestsPerSecond: block.max_requests_per_second ?? 20,
    requestTimeoutMs: block.request_timeout ?? 30_000,
  }) satisfies AwsSecretsManagerBackendConfig;
}

const AWS_SDK = ['@aws-sdk/*'];

/** `backend "aws_secrets_manager" "name" {}`. */
export const awsSecretsManagerProvider = defineProvider({
  type: 'aws_secrets_manager',
  title: 'AWS',
  schema: awsSchema,
  resolve: (block, context) => resolveAws('aws_secrets_manager', block, context),
  async open(config, deps) {
    const { SecretsManagerBackend } = await import('./secrets-manager-backend.js');
    return SecretsManagerBackend.open(config, deps.logger.child({ backend: config.name }), deps.live);
  },
  bundleExternal: AWS_SDK,
});

/** `backend "aws_ssm" "name" {}`: SSM Parameter Store. */
export const awsSsmProvider = defineProvider({
  type: 'aws_ssm',
  title: 'AWS',
  schema: awsSchema,
  resolve: (block, context) => resolveAws('aws_ssm', block, context),
  async open(config, deps) {
    const { SsmBackend } = await import('./ssm-backend.js');
    return SsmBackend.open(config, deps.logger.child({ backend: config.name }));
  },
  bundleExternal: AWS_SDK,
});
