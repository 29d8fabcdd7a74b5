import { GetParametersByPathCommand, GetParametersCommand, SSMClient, type Parameter } from '@aws-sdk/client-ssm';
import type { AwsSecretsManagerBackendConfig } from './provider.js';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { Sealed } from '../../sealed.js';
import { fingerprint } from '../fingerprint.js';
import type { FetchedSecret, FetchContext, SecretBackend } from '../types.js';
import { awsError } from './aws-errors.js';
import { awsClientOptions, instrumentAwsClient } from './call-log.js';
import { RateLimiter } from '../rate-limiter.js';
import { SecretBatcher, type BatchAnswer } from './secret-batcher.js';

/** GetParameters takes at most 10 names per call. */
const GET_PARAMETERS_BATCH = 10;

/**
 * AWS SSM Parameter Store. "params:/app/db/password" is one parameter (SecureString decrypted); a path ending in
 * "/" ("params:/app/db/") is an object of every parameter below it, nested by path (chamber's model). Reads of
 * single parameters made together are batched by 10; a change is a new parameter version.
 */
export class SsmBackend implements SecretBackend {
  readonly type = 'aws_ssm';
  readonly name: string;
  readonly #client: SSMClient;
  readonly #batcher = new SecretBatcher((names) => this.#getParameters(names), GET_PARAMETERS_BATCH);

  constructor(
    private readonly config: AwsSecretsManagerBackendConfig,
    logger: Logger,
  ) {
    this.name = config.name;
    this.#client = new SSMClient(awsClientOptions(config));
    instrumentAwsClient(this.#client, logger, new RateLimiter(config.maxRequestsPerSecond));
  }

  async fetch(path: string, _context: FetchContext): Promise<FetchedSecret> {
    const lifetime = { kind: 'poll', intervalMs: this.config.refreshIntervalMs } as const;
    if (path.endsWith('/')) {
      const parameters = await this.#byPath(path);
      const value: Record<string, unknown> = {};
      for (const p of parameters) setNested(value, (p.Name ?? '').slice(path.length).split('/').filter(Boolean), p.Value ?? '');
      const version = fingerprint(parameters.map((p) => `${p.Name ?? ''}@${p.Version ?? 0}`).sort().join('\n'));
      return { value: new Sealed(value), version, lifetime };
    }
    const parameter = await this.#batcher.get(path);
    return { value: new Sealed(parameter.secretString ?? ''), version: `ssm:${parameter.versionId}`, lifetime };
  }

  async close(): Promise<void> {
    this.#client.destroy();
    await Promise.resolve();
  }

  async #getParameters(names: string[]): Promise<BatchAnswer> {
    try {
      const answer = await this.#client.send(new GetParametersCommand({ Names: names, WithDecryption: true }));
      const errors = new Map((answer.InvalidParameters ?? []).map((n) => [n, new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}": parameter ${n} not found`)]));
      const values = (answer.Parameters ?? []).map((p) => ({ name: p.Name, arn: p.ARN, versionId: String(p.Version ?? 0), secretString: p.Value, secretBinary: undefined }));
      return { values, errors };
    } catch (error) {
      throw awsError(error, `backend "${this.name}": ${names.length} parameters`);
    }
  }

  async #byPath(path: string): Promise<Parameter[]> {
    const parameters: Parameter[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.#client.send(new GetParametersByPathCommand({ Path: path, Recursive: true, WithDecryption: true, ...(nextToken ? { NextToken: nextToken } : {}) }));
        parameters.push(...(page.Parameters ?? []));
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      throw awsError(error, `backend "${this.name}": ${path}`);
    }
    if (parameters.length === 0) throw new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `backend "${this.name}": no parameters under ${path}`);
    return parameters;
  }
}

function setNested(target: Record<string, unknown>, keys: readonly string[], value: string): void {
  let node = target;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) node[key] = value;
    else node = (node[key] ??= {}) as Record<string, unknown>;
  });
}
